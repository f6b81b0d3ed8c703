"""DINO prototype objective, the alternative to MCR for the EMA teacher (DINO, DINOv2, iBOT).

Teacher targets are sharpened with a temperature and de-biased either by an EMA *center* or by
Sinkhorn-Knopp. Unlike lightly's ``DINOLoss``, whose center moves on every ``forward``, the center
here moves only in :meth:`DINOLoss.update`, called once per optimizer step, so gradient
accumulation does not move it several times per step.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.distributed as dist
import torch.nn.functional as F
from lightly.loss import KoLeoLoss as _LightlyKoLeo
from torch import Tensor, nn

from dtcd.losses._precision import all_reduce_sum, fp32, world_size


@torch.no_grad()
def sinkhorn_knopp(logits: Tensor, iterations: int = 3) -> Tensor:
    """Balanced soft assignment of ``[N, K]`` logits to ``K`` prototypes, rows summing to 1.

    The global maximum is subtracted before ``exp`` (a scalar shift cancels in the first
    normalisation), which keeps ``exp(logits / 0.04)`` finite in float32. Sums are all-reduced
    when distributed, so every rank computes the same global assignment.
    """
    logits = logits.float()
    peak = logits.max().detach().clone()
    if world_size() > 1:
        dist.all_reduce(peak, op=dist.ReduceOp.MAX)
    q = torch.exp(logits - peak).T  # [K, N]
    tiny = torch.finfo(q.dtype).tiny  # a prototype or sample whose mass underflowed stays 0
    num_prototypes = q.shape[0]
    num_samples = torch.tensor(float(q.shape[1]), device=q.device)
    all_reduce_sum(num_samples)
    q /= all_reduce_sum(q.sum())
    for _ in range(iterations):
        q /= all_reduce_sum(q.sum(dim=1, keepdim=True)).clamp_min(tiny)  # equal prototype mass
        q /= num_prototypes
        q /= q.sum(dim=0, keepdim=True).clamp_min(tiny)  # each sample is a distribution
        q /= num_samples
    return (q * num_samples).T


class DINOLoss(nn.Module):
    """Cross-entropy between sharpened teacher prototypes and student prototypes, across views.

    Args:
        out_dim: Number of prototypes.
        student_temp: Student softmax temperature.
        teacher_temp: Teacher temperature after warm-up.
        warmup_teacher_temp: Teacher temperature at the start of training.
        warmup_fraction: Fraction of training over which the teacher temperature rises linearly.
        centering: ``'center'`` (EMA mean of teacher logits) or ``'sinkhorn'``.
        center_momentum: Momentum of the EMA center.
        sinkhorn_iterations: Sinkhorn-Knopp iterations.
    """

    def __init__(
        self,
        out_dim: int,
        student_temp: float = 0.1,
        teacher_temp: float = 0.07,
        warmup_teacher_temp: float = 0.04,
        warmup_fraction: float = 0.3,
        centering: Literal['center', 'sinkhorn'] = 'center',
        center_momentum: float = 0.9,
        sinkhorn_iterations: int = 3,
    ) -> None:
        super().__init__()
        self.student_temp = student_temp
        self.teacher_temp = teacher_temp
        self.warmup_teacher_temp = warmup_teacher_temp
        self.warmup_fraction = warmup_fraction
        self.centering = centering
        self.center_momentum = center_momentum
        self.sinkhorn_iterations = sinkhorn_iterations
        self.register_buffer('center', torch.zeros(1, out_dim))
        self.register_buffer('_pending_sum', torch.zeros(1, out_dim), persistent=False)
        self.register_buffer('_pending_count', torch.zeros(()), persistent=False)

    def temperature(self, progress: float) -> float:
        """Teacher temperature at training ``progress`` in [0, 1]."""
        if self.warmup_fraction <= 0 or progress >= self.warmup_fraction:
            return self.teacher_temp
        ramp = progress / self.warmup_fraction
        return self.warmup_teacher_temp + ramp * (self.teacher_temp - self.warmup_teacher_temp)

    @torch.no_grad()
    def teacher_probs(self, logits: Tensor, progress: float) -> Tensor:
        """Sharpen and de-bias teacher logits ``[..., K]``; remembers them for :meth:`update`."""
        temp = self.temperature(progress)
        with fp32(logits.device):
            logits = logits.float()
            flat = logits.reshape(-1, logits.shape[-1])
            if self.centering == 'sinkhorn':
                return sinkhorn_knopp(flat / temp, self.sinkhorn_iterations).view_as(logits)
            self._pending_sum += flat.sum(dim=0, keepdim=True)
            self._pending_count += flat.shape[0]
            return F.softmax((logits - self.center) / temp, dim=-1)

    def forward(self, student_logits: Tensor, teacher_probs: Tensor) -> Tensor:
        """Mean cross-entropy over all (teacher view, different student view) pairs.

        Args:
            student_logits: ``[V, B, K]``.
            teacher_probs: ``[T, B, K]`` from :meth:`teacher_probs`.
        """
        with fp32(student_logits.device):
            log_p = F.log_softmax(student_logits.float() / self.student_temp, dim=-1)
            cross = -torch.einsum('tbk,vbk->tv', teacher_probs.float(), log_p)
            num_teacher, num_student = cross.shape
            same_view = torch.eye(num_teacher, num_student, dtype=torch.bool, device=cross.device)
            pairs = num_teacher * num_student - num_teacher
            return cross.masked_fill(same_view, 0).sum() / (pairs * student_logits.shape[1])

    @torch.no_grad()
    def update(self) -> None:
        """Move the center once per optimizer step with the teacher logits seen since the last."""
        if self.centering != 'center' or self._pending_count.item() == 0:
            return
        total = all_reduce_sum(self._pending_sum.clone())
        count = all_reduce_sum(self._pending_count.clone())
        self.center.mul_(self.center_momentum).add_(total / count, alpha=1 - self.center_momentum)
        self._pending_sum.zero_()
        self._pending_count.zero_()


class IBOTPatchLoss(nn.Module):
    """iBOT's masked-patch loss: cross-entropy on masked tokens, each image weighted equally."""

    def __init__(self, student_temp: float = 0.1) -> None:
        super().__init__()
        self.student_temp = student_temp

    def forward(self, student_logits: Tensor, teacher_probs: Tensor, mask: Tensor) -> Tensor:
        """``student_logits``/``teacher_probs``: ``[B, N, K]``; ``mask``: ``[B, N]`` bool."""
        with fp32(student_logits.device):
            log_p = F.log_softmax(student_logits.float() / self.student_temp, dim=-1)
            per_token = -(teacher_probs.float() * log_p).sum(dim=-1)
            masked = mask.float()
            per_image = (per_token * masked).sum(dim=1) / masked.sum(dim=1).clamp(min=1)
            has_mask = (masked.sum(dim=1) > 0).float()
            return (per_image * has_mask).sum() / has_mask.sum().clamp(min=1)


class KoLeoLoss(nn.Module):
    """Kozachenko-Leonenko entropy regulariser (lightly's), always evaluated in float32."""

    def __init__(self) -> None:
        super().__init__()
        self.koleo = _LightlyKoLeo()

    def forward(self, x: Tensor) -> Tensor:
        """``x``: ``[B, D]`` embeddings of one view."""
        with fp32(x.device):
            return self.koleo(x.float())
