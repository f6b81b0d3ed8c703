"""Per-step schedules: functions of training progress in [0, 1], so resuming is exact."""

from __future__ import annotations

import math


def cosine(progress: float, start: float, end: float) -> float:
    """Half-cosine from ``start`` (progress 0) to ``end`` (progress 1)."""
    progress = min(max(progress, 0.0), 1.0)
    return end + (start - end) * (1 + math.cos(math.pi * progress)) / 2


def warmup_cosine(step: int, total: int, warmup: int, peak: float, final: float) -> float:
    """Linear warm-up from 0 to ``peak`` over ``warmup`` steps, then cosine to ``final``."""
    if step < warmup:
        return peak * step / warmup
    return cosine((step - warmup) / max(total - warmup, 1), peak, final)
