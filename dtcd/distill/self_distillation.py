"""The multispectral EMA teacher: self-distillation of the student's ``ms`` branch.

The EMA copy of the student (body, one stem, the objective's head) sees the global views; the
student sees all views. What they are trained to agree on is the objective
(:mod:`dtcd.distill.objectives`): DEO's MCR by default, or DINO prototypes with KoLeo and iBOT.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from dtcd.augment import MultiCropViews
from dtcd.bands import reindex
from dtcd.distill.base import FeaturePair, StudentOutputs, Teacher, ViewGroup
from dtcd.distill.objectives import MCRObjective, Objective, StudentSide
from dtcd.distill.schedules import cosine
from dtcd.models import EMATeacher, Student


class SelfDistillation(Teacher):
    """EMA copy of the student body, one stem and the objective's head, on global views.

    Args:
        objective: What teacher and student agree on (default: ``MCRObjective()``, DEO's).
        stem: The student stem the teacher sees.
        momentum: EMA momentum at the start and end of training (cosine per step).
        teacher_mode: ``'eval'``: the EMA teacher computes targets without stochastic depth
            (dtcd's default); ``'train'``: with it, as the DEO authors' code does.
        name: Prefix of the logged terms.
        weight: Weight of this teacher's loss.
    """

    def __init__(
        self,
        objective: Objective | None = None,
        stem: str = 'ms',
        momentum: tuple[float, float] = (0.996, 1.0),
        teacher_mode: Literal['eval', 'train'] = 'eval',
        name: str = 'ms',
        weight: float = 1.0,
    ) -> None:
        super().__init__(name, weight)
        self.objective = objective if objective is not None else MCRObjective()
        self.stem, self.momentum, self.teacher_mode = stem, momentum, teacher_mode

    def bind(self, student: Student) -> None:
        """Build the head, the EMA copy of (body, stem, head) and, to mask, the mask token."""
        if self.stem not in student.stems:
            raise ValueError(
                f'SelfDistillation uses stem {self.stem!r}, '
                f'but the student has {list(student.stems)}.'
            )
        self.head = self.objective.make_head(student.num_features)
        self.teacher = EMATeacher(student, self.head, stem=self.stem, mode=self.teacher_mode)
        self.student_bands = student.bands[self.stem]
        self.mask_grid = student.mask_grid
        if self.objective.masks:
            self.mask_token = nn.Parameter(torch.zeros(student.embed_dim))
            nn.init.trunc_normal_(self.mask_token, std=0.02)

    @property
    def _global_group(self) -> ViewGroup:
        return 'global_masked' if self.objective.masks else 'global'

    def required_passes(self) -> set[tuple[str, ViewGroup]]:
        """Global (masked, if the objective masks) and local views through the teacher's stem."""
        return {(self.stem, self._global_group), (self.stem, 'local')}

    def sample_masks(self, views: MultiCropViews) -> Tensor:
        """The objective's masks on the student's mask grid of the global views."""
        count, batch, _, height, width = views.global_views.shape
        grid = (count * batch, *self.mask_grid(height, width))
        return self.objective.sample_masks(grid, views.global_views.device)

    def compile_networks(self) -> None:
        """Compile the EMA body's forward (static shapes: one graph per crop size)."""
        backbone = self.teacher.backbone
        backbone.encode = torch.compile(backbone.encode, dynamic=False)

    def masking_token(self) -> Tensor | None:
        """The learnt mask token, when the objective masks."""
        return self.mask_token if self.objective.masks else None

    @torch.no_grad()
    def targets(
        self, views: MultiCropViews, bands: tuple[str, ...], progress: float
    ) -> dict[str, Tensor]:
        """The objective's targets from the EMA teacher's head outputs, ``[G, B, K]`` (and, to
        mask, of its last-stage tokens, with the student's ``'masks'``)."""
        global_views = reindex(views.global_views.flatten(0, 1), bands, self.student_bands)
        features = self.teacher.backbone.encode(global_views, self.stem)
        out = self.teacher.head(features.pooled)
        out = out.unflatten(0, (views.global_views.shape[0], -1))
        tokens = None
        if self.objective.masks:
            tokens = self.teacher.head(features.maps[-1].flatten(2).transpose(1, 2))
        targets = self.objective.targets(out, tokens, progress)
        if self.objective.masks:
            targets['masks'] = views.masks
        return targets

    @torch.no_grad()
    def feature_pairs(
        self, student: Student, images: Tensor, bands: tuple[str, ...]
    ) -> list[FeaturePair]:
        """The EMA teacher's and the student's last stage maps (same architecture, one space)."""
        x = reindex(images, bands, self.student_bands)
        teacher = self.teacher.backbone.forward_features(x, self.stem)[-1]
        ours = student.forward_features(x, self.stem)[-1]
        return [FeaturePair(f'stage{len(student.feature_dims)}', teacher, ours)]

    def loss(
        self, student: StudentOutputs, targets: dict[str, Tensor], progress: float
    ) -> dict[str, Tensor]:
        """The objective's loss of the student's outputs on all views."""
        global_pass = student[self.stem, self._global_group]
        local_pass = student[self.stem, 'local']
        pooled = torch.cat([global_pass.pooled_views(), local_pass.pooled_views()])
        side = StudentSide(pooled, global_pass.maps[-1], targets.get('masks'))
        return self.objective.loss(self.head, side, targets)

    def update(self, student: Student, progress: float) -> None:
        """EMA step with the cosine momentum schedule; the objective's own update."""
        self.teacher.update(student, self.head, self.current_momentum(progress))
        self.objective.update()

    def current_momentum(self, progress: float) -> float:
        """EMA momentum at ``progress``."""
        return cosine(progress, *self.momentum)

    def scalars(self, progress: float) -> dict[str, float]:
        """The EMA momentum, logged as ``schedule/<name>_momentum``."""
        return {'momentum': self.current_momentum(progress)}

    def before_optimizer_step(self, progress: float) -> None:
        """The objective's (DINO: frozen prototypes early on)."""
        self.objective.before_optimizer_step(self.head, progress)

    def student_features(self, student: StudentOutputs) -> dict[str, Tensor]:
        """What the objective monitors of the student's global views, by ``<name>_<suffix>``."""
        pooled = student[self.stem, self._global_group].pooled.detach()
        return {
            f'{self.name}_{k}': v for k, v in self.objective.monitored(self.head, pooled).items()
        }
