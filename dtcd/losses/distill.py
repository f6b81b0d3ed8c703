"""Feature-space distillation losses from a frozen optical teacher (PAPER.md §2.4).

Public DINOv3 checkpoints carry no DINO/iBOT heads, so distillation happens in feature space:
cosine agreement of class tokens across views and of patch tokens location by location.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dtcd.losses._precision import fp32


def cross_view_cosine(teacher: Tensor, student: Tensor) -> Tensor:
    """Mean cosine between every teacher view and every *other* student view.

    Args:
        teacher: ``[T, B, D]``; teacher view ``u`` is the same crop as student view ``u``.
        student: ``[V, B, D]`` with ``V >= T``.

    Returns:
        The sum over the ``T·V − T`` pairs with different view indices of the batch-mean
        cosine, divided by ``T·V − T`` (``2V − 2`` for two global views).
    """
    num_teacher, num_student = teacher.shape[0], student.shape[0]
    similarity = (
        torch.einsum('tbd,vbd->tv', F.normalize(teacher, dim=-1), F.normalize(student, dim=-1))
        / teacher.shape[1]
    )
    same_view = torch.eye(num_teacher, num_student, dtype=torch.bool, device=similarity.device)
    pairs = num_teacher * num_student - num_teacher
    if pairs == 0:
        raise ValueError('Cross-view cosine needs a student view besides the teacher views.')
    return similarity.masked_fill(same_view, 0).sum() / pairs


def patch_cosine(student: Tensor, teacher: Tensor) -> Tensor:
    """Mean per-token cosine after resizing the student map to the teacher's grid.

    Args:
        student: ``[B, D, h, w]`` student patch embeddings (after their projection head).
        teacher: ``[B, D, H, W]`` teacher patch tokens of the same crops.
    """
    if student.shape[:2] != teacher.shape[:2]:
        raise ValueError(
            f'Student patch map {tuple(student.shape)} and teacher tokens '
            f'{tuple(teacher.shape)} must share batch size and width.'
        )
    return F.cosine_similarity(on_teacher_grid(student, teacher), teacher, dim=1).mean()


def on_teacher_grid(student: Tensor, teacher: Tensor) -> Tensor:
    """``student`` ``[B, D, h, w]`` resized bilinearly to the grid of ``teacher`` ``[B, D, H, W]``
    (what the patch loss compares)."""
    if student.shape[-2:] == teacher.shape[-2:]:
        return student
    return F.interpolate(student, size=teacher.shape[-2:], mode='bilinear')


class CLSDistillLoss(nn.Module):
    """Cross-view cosine between teacher class tokens and the student's RGB-pass CLS head."""

    def forward(self, student: Tensor, teacher: Tensor) -> dict[str, Tensor]:
        """``student``: ``[V, B, D]`` (all views); ``teacher``: ``[T, B, D]`` (global views)."""
        with fp32(student.device):
            cosine = cross_view_cosine(teacher.float(), student.float())
        return {'loss': -cosine, 'cosine': cosine}


class PatchDistillLoss(nn.Module):
    """Per-token cosine between student stage maps and teacher block tokens, averaged over pairs.

    Each pair is (student stage map after its head, teacher block tokens), e.g. stage 3 ↔ block 8
    and stage 4 ↔ block 11 for a ViT-B teacher.
    """

    def forward(
        self, students: list[Tensor], teachers: list[Tensor], names: list[str]
    ) -> dict[str, Tensor]:
        """Return ``loss`` = −mean cosine and one ``cosine_<name>`` per pair."""
        if not len(students) == len(teachers) == len(names):
            raise ValueError('Need one teacher map and one name per student map.')
        out: dict[str, Tensor] = {}
        with fp32(students[0].device):
            for student, teacher, name in zip(students, teachers, names, strict=True):
                out[f'cosine_{name}'] = patch_cosine(student.float(), teacher.float())
        out['loss'] = -torch.stack(list(out.values())).mean()
        return out
