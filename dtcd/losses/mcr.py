"""The MCR objective of SimDINO that DEO uses for its multispectral EMA teacher.

Collapse is prevented by a coding-rate (log-det) expansion term instead of prototypes, softmax
temperatures or centering (PAPER.md §2.3; SimDINO, arXiv 2502.10385).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dtcd.losses._precision import fp32, world_size
from dtcd.losses.distill import cross_view_cosine


def coding_rate(z: Tensor, eps: float, world: int = 1) -> Tensor:
    """Coding rate ``½·logdet(I + p/(m·N·ε)·ZᵀZ)`` of embeddings ``z`` of shape ``[m, p]``.

    Computed through a Cholesky factor (``Σ log diag L``), which is stable for this SPD matrix;
    a factorisation that fails (NaN or Inf embeddings) yields NaN, which the training loop
    reports by name, rather than an exception from deep inside the linear algebra.
    """
    m, p = z.shape
    gram = z.T @ z
    scale = p / (m * world * eps)
    matrix = torch.eye(p, device=z.device, dtype=z.dtype) + scale * gram
    factor, info = torch.linalg.cholesky_ex(matrix)
    rate = factor.diagonal().log().sum()
    return torch.where(info == 0, rate, torch.full_like(rate, float('nan')))


class MCRLoss(nn.Module):
    """SimDINO's MCR loss: cross-view cosine compression plus coding-rate expansion.

    Args:
        eps: Coding-rate precision ε (the DEO command uses 0.05).
        coeff: Weight of the compression term.
    """

    def __init__(self, eps: float = 0.05, coeff: float = 1.0) -> None:
        super().__init__()
        self.eps = eps
        self.coeff = coeff

    def forward(self, student: Tensor, teacher: Tensor) -> dict[str, Tensor]:
        """Compute the loss.

        Args:
            student: ``[V, B, D]`` student embeddings, the first ``T`` views being the global
                views the teacher saw.
            teacher: ``[T, B, D]`` teacher embeddings of the global views (no gradient).

        Returns:
            ``loss`` (to minimise), ``compression`` and ``expansion`` (both to maximise).
        """
        num_teacher, batch, dim = teacher.shape
        if student.shape[0] < num_teacher or student.shape[1:] != teacher.shape[1:]:
            raise ValueError(
                f'Student views {tuple(student.shape)} must start with the {num_teacher} '
                f'teacher views {tuple(teacher.shape)} and share batch and width.'
            )
        with fp32(student.device):
            student, teacher = student.float(), teacher.float()
            compression = cross_view_cosine(teacher, student)
            world = world_size()
            averaged = (student[:num_teacher] + teacher) / 2
            rates = torch.stack([coding_rate(z, self.eps, world) for z in averaged])
            balance = (dim + world * batch) / (dim * world * batch)
            expansion = balance * rates.mean()
            loss = -self.coeff * compression - expansion
        return {'loss': loss, 'compression': compression, 'expansion': expansion}
