"""AdamW parameter groups, per-step schedules and DINO's per-parameter gradient clip.

Schedules are functions of the optimizer step alone (PAPER.md §2.9, DESIGN.md), so a resumed run
continues them exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from timm.optim import param_groups_weight_decay
from torch import nn
from torch.optim import AdamW

from dtcd.distill.schedules import cosine, warmup_cosine

#: Devices with a fused AdamW kernel (torch >= 2.4 has CPU and CUDA).
FUSED_DEVICES = ('cuda', 'cpu', 'xpu', 'mps')


def adamw(module: nn.Module, lr: float, weight_decay: float, betas: tuple[float, float]) -> AdamW:
    """AdamW with weight decay on weights and none on norms and biases (timm's grouping).

    The decayed group is marked ``apply_wd`` for :func:`apply_schedule`. Fused (one kernel per
    step instead of a loop over ~200 tensors, PAPER.md §2.9) where the device has the kernel.
    """
    groups = param_groups_weight_decay(module, 1.0)  # 1.0 marks the decayed group
    for group in groups:
        group['apply_wd'] = group['weight_decay'] > 0
        group['weight_decay'] = weight_decay if group['apply_wd'] else 0.0
    params = [p for group in groups for p in group['params']]
    fused = all(p.device.type in FUSED_DEVICES for p in params)
    return AdamW(groups, lr=lr, betas=betas, fused=fused or None)


@dataclass(frozen=True)
class StepSchedule:
    """Learning rate (linear warm-up, then cosine) and weight decay (cosine) per optimizer step.

    Attributes:
        peak_lr: Learning rate at the end of warm-up.
        min_lr: Learning rate at the last step.
        warmup_fraction: Share of the steps with linear warm-up.
        weight_decay: Weight decay at the first and the last step.
        total_steps: Optimizer steps of the whole run.
    """

    peak_lr: float
    min_lr: float
    warmup_fraction: float
    weight_decay: tuple[float, float]
    total_steps: int

    def lr(self, step: int) -> float:
        """Learning rate of optimizer step ``step``."""
        warmup = round(self.warmup_fraction * self.total_steps)
        return warmup_cosine(step, self.total_steps, warmup, self.peak_lr, self.min_lr)

    def decay(self, step: int) -> float:
        """Weight decay of optimizer step ``step``."""
        return cosine(min(step / self.total_steps, 1.0), *self.weight_decay)


def apply_schedule(optimizer: torch.optim.Optimizer, lr: float, weight_decay: float) -> None:
    """Set ``lr`` on every group and ``weight_decay`` on the groups marked ``apply_wd``."""
    for group in optimizer.param_groups:
        group['lr'] = lr
        if group.get('apply_wd'):
            group['weight_decay'] = weight_decay


def clip_per_parameter(parameters: Iterable[nn.Parameter], clip: float) -> None:
    """Cap each gradient's norm at ``clip`` (DINO's clip); three kernels for all gradients."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if clip <= 0 or not grads:
        return
    norms = torch.stack(torch._foreach_norm(grads))
    factors = (clip / (norms + 1e-6)).clamp(max=1.0)
    torch._foreach_mul_(grads, list(factors.unbind()))
