"""Helpers that keep numerically delicate losses in fp32 under mixed precision."""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch
import torch.distributed as dist
from torch import Tensor


def fp32(device: torch.device) -> AbstractContextManager[None]:
    """Disable autocast on ``device`` so log-det, softmax and Sinkhorn run in float32."""
    return torch.autocast(device_type=device.type, enabled=False)


def world_size() -> int:
    """Number of processes in the default group, 1 when not distributed."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def all_reduce_sum(x: Tensor) -> Tensor:
    """Sum ``x`` over all ranks in place when distributed; a no-op otherwise."""
    if world_size() > 1:
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x
