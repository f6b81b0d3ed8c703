"""Distillation from a frozen optical foundation model (DINOv3 in DEO) into the RGB branch.

The student's ``rgb`` pass is matched to the teacher twice (PAPER.md §2.4): its pooled embedding
(through a CLS head) against the teacher's class token across views, and chosen stage maps
(through patch heads, resized to the teacher grid) against the teacher's patch tokens of chosen
blocks on the same global view.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from dtcd.augment import MultiCropViews
from dtcd.bands import reindex
from dtcd.distill.base import FeaturePair, StudentOutputs, Teacher, ViewGroup
from dtcd.losses import CLSDistillLoss, PatchDistillLoss
from dtcd.losses.distill import on_teacher_grid
from dtcd.models import FrozenTeacher, ProjectionHead, StageFeatures, Student


class OpticalDistillation(Teacher):
    """CLS and patch-token distillation from a :class:`FrozenTeacher`.

    ``loss = cls_weight · (−cls cosine) + patch_weight · (−mean patch cosine)``; DEO's
    ``−(cls + (mid + late) / 2) / 2`` is ``cls_weight = patch_weight = 0.5``.

    Args:
        teacher: The frozen teacher network.
        stem: The student stem fed the teacher's RGB.
        stages: Student stage indices (0-based) matched to ``teacher.blocks`` in order
            (DEO: stages 2 and 3 ↔ blocks 8 and 11).
        cls_weight: Weight of the class-token term.
        patch_weight: Weight of the patch-token term (0 disables it).
        hidden_dim: Hidden width of the heads.
        name: Prefix of the logged terms.
        weight: Weight of this teacher's loss.
    """

    def __init__(
        self,
        teacher: FrozenTeacher,
        stem: str = 'rgb',
        stages: Sequence[int] = (2, 3),
        cls_weight: float = 0.5,
        patch_weight: float = 0.5,
        hidden_dim: int = 2048,
        name: str = 'optical',
        weight: float = 1.0,
    ) -> None:
        super().__init__(name, weight)
        self.teacher = teacher
        self.stem = stem
        self.stages = tuple(stages)
        if patch_weight > 0 and len(self.stages) != len(teacher.blocks):
            raise ValueError(
                f'Patch distillation pairs student stages {list(self.stages)} with teacher blocks '
                f'{list(teacher.blocks)}: give as many of each.'
            )
        self.cls_weight, self.patch_weight = cls_weight, patch_weight
        self.hidden_dim = hidden_dim
        self.cls_loss, self.patch_loss = CLSDistillLoss(), PatchDistillLoss()

    def bind(self, student: Student) -> None:
        """Build the CLS head and one patch head per distilled stage."""
        if self.stem not in student.stems:
            raise ValueError(
                f'OpticalDistillation uses stem {self.stem!r}, '
                f'but the student has {list(student.stems)}.'
            )
        width = self.teacher.embed_dim
        self.cls_head = ProjectionHead(student.num_features, width, self.hidden_dim)
        self.patch_heads = nn.ModuleList(
            ProjectionHead(student.feature_dims[s], width, self.hidden_dim) for s in self.stages
        )
        self.student_bands = student.bands[self.stem]

    def required_passes(self) -> set[tuple[str, ViewGroup]]:
        """The RGB stem on global views (CLS and patches) and local views (CLS)."""
        passes: set[tuple[str, ViewGroup]] = {(self.stem, 'global')}
        if self.cls_weight > 0:
            passes.add((self.stem, 'local'))
        return passes

    def compile_networks(self) -> None:
        """Compile the frozen network's forward (static shapes)."""
        model = self.teacher.model
        model.forward_intermediates = torch.compile(model.forward_intermediates, dynamic=False)

    @torch.no_grad()
    def targets(
        self, views: MultiCropViews, bands: tuple[str, ...], progress: float
    ) -> StageFeatures:
        """Teacher class and patch tokens of the global views' RGB."""
        return self.teacher(views.global_views.flatten(0, 1), bands)

    @torch.no_grad()
    def feature_pairs(
        self, student: Student, images: Tensor, bands: tuple[str, ...]
    ) -> list[FeaturePair]:
        """Teacher tokens of each distilled block and the student's patch-head outputs of its
        stage, resized to the teacher grid as the patch loss resizes them; none without a patch
        term (the heads would be untrained)."""
        if self.patch_weight == 0:
            return []
        tokens = self.teacher(images, bands).maps
        stages = student.forward_features(reindex(images, bands, self.student_bands), self.stem)
        return [
            FeaturePair(name, teacher, on_teacher_grid(mapped, teacher))
            for name, mapped, teacher in zip(
                self.pair_names(), self.patch_maps(stages), tokens, strict=True
            )
        ]

    def patch_maps(self, stages: list[Tensor]) -> list[Tensor]:
        """The patch heads' NCHW outputs of the distilled stages of ``stages``."""
        return [
            head(stages[s].permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            for s, head in zip(self.stages, self.patch_heads, strict=True)
        ]

    def pair_names(self) -> list[str]:
        """``stage<s>_block<b>`` of each (student stage, teacher block) pair, 1-based stages."""
        return [
            f'stage{s + 1}_block{b}' for s, b in zip(self.stages, self.teacher.blocks, strict=True)
        ]

    def loss(
        self, student: StudentOutputs, targets: StageFeatures, progress: float
    ) -> dict[str, Tensor]:
        """Class-token and patch-token cosine terms."""
        global_pass = student[self.stem, 'global']
        num_global = global_pass.num_views
        terms: dict[str, Tensor] = {}
        total = global_pass.pooled.new_zeros(())
        if self.cls_weight > 0:
            pooled = torch.cat(
                [global_pass.pooled_views(), student[self.stem, 'local'].pooled_views()]
            )
            teacher_cls = targets.pooled.unflatten(0, (num_global, -1))
            cls = self.cls_loss(self.cls_head(pooled), teacher_cls)
            terms['cls_cosine'] = cls['cosine']
            total = total + self.cls_weight * cls['loss']
        if self.patch_weight > 0:
            maps = self.patch_maps(global_pass.maps)
            patch = self.patch_loss(maps, targets.maps, self.pair_names())
            terms |= {f'patch_{k}': v for k, v in patch.items() if k != 'loss'}
            total = total + self.patch_weight * patch['loss']
        terms['loss'] = total
        return terms
