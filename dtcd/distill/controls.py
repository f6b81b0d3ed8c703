"""Control runs: teachers whose targets no longer belong to the image the student sees.

A gain that survives these controls is not the method's. Distilling from *random* teachers is no
such control: matching a random network's features across crops already teaches invariances
(Sarnthein et al., "Random Teachers are Good Teachers", ICML 2023), and dtcd's demo measured it
(issue 15). :class:`ShuffledTargets` keeps the teacher and all it knows but hands each image the
targets of another image of the batch, which breaks exactly the link the method relies on.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from dtcd.augment import MultiCropViews
from dtcd.distill.base import FeaturePair, StudentOutputs, Teacher, ViewGroup
from dtcd.models import StageFeatures, Student


def shuffle_batch(targets: Any, permutation: Tensor, num_views: int) -> Any:
    """``targets`` with the images of the batch reordered by ``permutation`` in every view.

    Tensors are ``[V, B, ...]`` (view-major with a view axis) or ``[V·B, ...]`` (views
    flattened); dicts and :class:`~dtcd.models.StageFeatures` are shuffled field by field.
    """
    if isinstance(targets, StageFeatures):
        return StageFeatures(
            [shuffle_batch(m, permutation, num_views) for m in targets.maps],
            shuffle_batch(targets.pooled, permutation, num_views),
        )
    if isinstance(targets, dict):
        return {k: shuffle_batch(v, permutation, num_views) for k, v in targets.items()}
    batch = len(permutation)
    if targets.ndim >= 2 and targets.shape[:2] == (num_views, batch):
        return targets[:, permutation]
    if targets.shape[0] == num_views * batch:
        return targets.unflatten(0, (num_views, batch))[:, permutation].flatten(0, 1)
    raise ValueError(
        f'Cannot find the batch axis of a target of shape {tuple(targets.shape)} '
        f'({num_views} views of {batch} images).'
    )


class ShuffledTargets(Teacher):
    """A teacher (everything delegated) whose targets are permuted across the batch each step.

    Args:
        teacher: The teacher to wrap; its name and weight are kept.
    """

    def __init__(self, teacher: Teacher) -> None:
        super().__init__(teacher.name, teacher.weight)
        self.teacher = teacher

    def bind(self, student: Student) -> None:
        self.teacher.bind(student)

    def required_passes(self) -> set[tuple[str, ViewGroup]]:
        return self.teacher.required_passes()

    @torch.no_grad()
    def targets(self, views: MultiCropViews, bands: tuple[str, ...], progress: float) -> Any:
        """The wrapped teacher's targets, each image given another image's."""
        num_views, batch = views.global_views.shape[:2]
        permutation = torch.randperm(batch, device=views.global_views.device)
        targets = self.teacher.targets(views, bands, progress)
        masks = targets.pop('masks', None) if isinstance(targets, dict) else None
        shuffled = shuffle_batch(targets, permutation, num_views)
        if masks is not None:  # the student's own masks, not a target
            shuffled['masks'] = masks
        return shuffled

    def loss(self, student: StudentOutputs, targets: Any, progress: float) -> dict[str, Tensor]:
        return self.teacher.loss(student, targets, progress)

    def before_optimizer_step(self, progress: float) -> None:
        self.teacher.before_optimizer_step(progress)

    def update(self, student: Student, progress: float) -> None:
        self.teacher.update(student, progress)

    def compile_networks(self) -> None:
        self.teacher.compile_networks()

    def masking_token(self) -> Tensor | None:
        return self.teacher.masking_token()

    def scalars(self, progress: float) -> dict[str, float]:
        return self.teacher.scalars(progress)

    def student_features(self, student: StudentOutputs) -> dict[str, Tensor]:
        return self.teacher.student_features(student)

    def feature_pairs(
        self, student: Student, images: Tensor, bands: tuple[str, ...]
    ) -> list[FeaturePair]:
        return self.teacher.feature_pairs(student, images, bands)

    def sample_masks(self, views: MultiCropViews) -> Tensor:
        return self.teacher.sample_masks(views)
