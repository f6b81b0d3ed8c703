"""The multispectral EMA teacher: self-distillation of the student's ``ms`` branch.

The default objective is DEO's MCR (SimDINO); ``objective='dino'`` swaps in DINO prototypes with
centering or Sinkhorn-Knopp, optionally with KoLeo and with iBOT's masked-patch loss (the student
sees block-masked global views, the teacher the unmasked ones; patch tokens of the last stage go
through the shared prototype head, iBOT's default).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from lightly.models.utils import random_block_mask
from torch import Tensor, nn

from dtcd.augment import MultiCropViews
from dtcd.bands import reindex
from dtcd.distill.base import FeaturePair, StudentOutputs, Teacher, ViewGroup
from dtcd.distill.schedules import cosine
from dtcd.losses import MCRLoss
from dtcd.losses.dino import DINOLoss, IBOTPatchLoss, KoLeoLoss
from dtcd.models import DINOHead, EMATeacher, ProjectionHead, Student


class SelfDistillation(Teacher):
    """EMA copy of the student body, one stem and its head, trained-against on global views.

    Args:
        objective: ``'mcr'`` (DEO, SimDINO) or ``'dino'`` (prototypes).
        stem: The student stem the teacher sees.
        out_dim: MCR embedding width (256 in DEO) or the number of DINO prototypes.
        hidden_dim: Hidden width of the projection head.
        bottleneck_dim: DINO head bottleneck width.
        momentum: EMA momentum at the start and end of training (cosine per step).
        eps: MCR coding-rate precision.
        coeff: MCR compression weight.
        centering: DINO teacher de-biasing, ``'center'`` or ``'sinkhorn'``.
        teacher_temp: DINO teacher temperature after warm-up.
        warmup_teacher_temp: DINO teacher temperature at the start.
        warmup_teacher_temp_fraction: Share of training over which the temperature rises.
        student_temp: DINO student temperature.
        koleo_weight: Weight of KoLeo on the student's pooled global features (DINO only).
        ibot_weight: Weight of the iBOT masked-patch loss (DINO only; 0 disables masking).
        mask_probability: Share of global views that are masked (iBOT).
        mask_ratio: Range of the masked share of a masked view's last-stage cells.
        freeze_last_layer_fraction: Share of training with frozen DINO prototypes.
        teacher_mode: ``'eval'``: the EMA teacher computes targets without stochastic depth
            (dtcd's default); ``'train'``: with it, as the DEO authors' code does.
        name: Prefix of the logged terms.
        weight: Weight of this teacher's loss.
    """

    def __init__(
        self,
        objective: Literal['mcr', 'dino'] = 'mcr',
        stem: str = 'ms',
        out_dim: int = 256,
        hidden_dim: int = 2048,
        bottleneck_dim: int = 256,
        momentum: tuple[float, float] = (0.996, 1.0),
        eps: float = 0.05,
        coeff: float = 1.0,
        centering: Literal['center', 'sinkhorn'] = 'center',
        teacher_temp: float = 0.07,
        warmup_teacher_temp: float = 0.04,
        warmup_teacher_temp_fraction: float = 0.3,
        student_temp: float = 0.1,
        koleo_weight: float = 0.0,
        ibot_weight: float = 0.0,
        mask_probability: float = 0.5,
        mask_ratio: tuple[float, float] = (0.1, 0.5),
        freeze_last_layer_fraction: float = 0.0,
        teacher_mode: Literal['eval', 'train'] = 'eval',
        name: str = 'ms',
        weight: float = 1.0,
    ) -> None:
        super().__init__(name, weight)
        self.objective = objective
        self.stem = stem
        self.out_dim, self.hidden_dim, self.bottleneck_dim = out_dim, hidden_dim, bottleneck_dim
        self.momentum = momentum
        self.koleo_weight = koleo_weight
        self.freeze_last_layer_fraction = freeze_last_layer_fraction
        self.teacher_mode = teacher_mode
        dino_options = {
            'student_temp': student_temp,
            'teacher_temp': teacher_temp,
            'warmup_teacher_temp': warmup_teacher_temp,
            'warmup_fraction': warmup_teacher_temp_fraction,
            'centering': centering,
        }
        if objective == 'mcr':
            self.criterion: MCRLoss | DINOLoss = MCRLoss(eps=eps, coeff=coeff)
        elif objective == 'dino':
            self.criterion = DINOLoss(out_dim, **dino_options)
        else:
            raise ValueError(f"objective must be 'mcr' or 'dino', got {objective!r}.")
        self.koleo = KoLeoLoss() if koleo_weight > 0 else None
        if ibot_weight > 0 and objective != 'dino':
            raise ValueError("iBOT's masked-patch loss needs objective='dino' (prototypes).")
        self.ibot_weight = ibot_weight
        self.mask_probability, self.mask_ratio = mask_probability, mask_ratio
        if ibot_weight > 0:
            # Patch targets get their own center, as in iBOT.
            self.patch_criterion = DINOLoss(out_dim, **dino_options)
            self.ibot = IBOTPatchLoss(student_temp)

    def bind(self, student: Student) -> None:
        """Build the student head and the EMA copy of (body, stem, head)."""
        if self.stem not in student.stems:
            raise ValueError(
                f'SelfDistillation uses stem {self.stem!r}, '
                f'but the student has {list(student.stems)}.'
            )
        if self.objective == 'mcr':
            self.head = ProjectionHead(student.num_features, self.out_dim, self.hidden_dim)
        else:
            self.head = DINOHead(
                student.num_features, self.out_dim, self.hidden_dim, self.bottleneck_dim
            )
        self.teacher = EMATeacher(student, self.head, stem=self.stem, mode=self.teacher_mode)
        self.student_bands = student.bands[self.stem]
        if self.ibot_weight > 0:
            self.mask_token = nn.Parameter(torch.zeros(student.embed_dim))
            nn.init.trunc_normal_(self.mask_token, std=0.02)

    @property
    def _global_group(self) -> ViewGroup:
        return 'global_masked' if self.ibot_weight > 0 else 'global'

    def required_passes(self) -> set[tuple[str, ViewGroup]]:
        """Global (masked for iBOT) and local views through the teacher's stem."""
        return {(self.stem, self._global_group), (self.stem, 'local')}

    def sample_masks(self, views: MultiCropViews) -> Tensor:
        """DINOv2-style block masks on the last-stage grid of the global views."""
        count, batch, _, height, width = views.global_views.shape
        grid = (count * batch, -(-height // 32), -(-width // 32))
        largest = max(1, math.ceil(grid[1] * grid[2] * self.mask_ratio[1]))
        return random_block_mask(
            grid,
            batch_mask_ratio=self.mask_probability,
            min_image_mask_ratio=self.mask_ratio[0],
            max_image_mask_ratio=self.mask_ratio[1],
            min_num_masks_per_block=1,
            max_num_masks_per_block=largest,
            device=views.global_views.device,
        )

    @torch.no_grad()
    def targets(
        self, views: MultiCropViews, bands: tuple[str, ...], progress: float
    ) -> dict[str, Tensor]:
        """Teacher embeddings (MCR) or sharpened prototype probabilities (DINO), ``[G, B, D]``.

        With iBOT, also ``'patch'``: per-token probabilities ``[G·B, N, K]`` of the last stage,
        and the student's ``'masks'``.
        """
        global_views = reindex(views.global_views.flatten(0, 1), bands, self.student_bands)
        features = self.teacher.backbone.forward_features(global_views, self.stem)
        out = self.teacher.head(self.teacher.backbone.embedding(features))
        out = out.unflatten(0, (views.global_views.shape[0], -1))
        if not isinstance(self.criterion, DINOLoss):
            return {'views': out}
        targets = {'views': self.criterion.teacher_probs(out, progress)}
        if self.ibot_weight > 0:
            tokens = self.teacher.head(features[-1].flatten(2).transpose(1, 2))
            targets['patch'] = self.patch_criterion.teacher_probs(tokens, progress)
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
        """MCR or DINO (+ iBOT, KoLeo) loss of the student's head outputs on all views."""
        global_pass = student[self.stem, self._global_group]
        local_pass = student[self.stem, 'local']
        pooled = torch.cat([global_pass.pooled_views(), local_pass.pooled_views()])
        outputs = self.head(pooled)
        if isinstance(self.criterion, MCRLoss):
            return self.criterion(outputs, targets['views'])
        terms = {'dino': self.criterion(outputs, targets['views'])}
        if self.ibot_weight > 0:
            tokens = self.head(global_pass.features[-1].flatten(2).transpose(1, 2))
            terms['ibot'] = self.ibot(tokens, targets['patch'], targets['masks'].flatten(1))
        if self.koleo is not None:
            terms['koleo'] = torch.stack([self.koleo(v) for v in global_pass.pooled_views()]).sum()
        terms['loss'] = terms['dino']
        if 'koleo' in terms:
            terms['loss'] = terms['loss'] + self.koleo_weight * terms['koleo']
        if 'ibot' in terms:
            terms['loss'] = terms['loss'] + self.ibot_weight * terms['ibot']
        return terms

    def update(self, student: Student, progress: float) -> None:
        """EMA step with the cosine momentum schedule; DINO center step."""
        self.teacher.update(student, self.head, self.current_momentum(progress))
        if isinstance(self.criterion, DINOLoss):
            self.criterion.update()
        if self.ibot_weight > 0:
            self.patch_criterion.update()

    def current_momentum(self, progress: float) -> float:
        """EMA momentum at ``progress``."""
        return cosine(progress, *self.momentum)

    def scalars(self, progress: float) -> dict[str, float]:
        """The EMA momentum, logged as ``schedule/<name>_momentum``."""
        return {'momentum': self.current_momentum(progress)}

    def masking_token(self) -> Tensor | None:
        """iBOT's learnt mask token (``ibot_weight > 0``), else ``None``."""
        return self.mask_token if self.ibot_weight > 0 else None

    def before_optimizer_step(self, progress: float) -> None:
        """Keep DINO prototypes fixed during the first ``freeze_last_layer_fraction``."""
        if isinstance(self.head, DINOHead) and progress < self.freeze_last_layer_fraction:
            self.head.cancel_last_layer_gradients()

    def student_features(self, student: StudentOutputs) -> dict[str, Tensor]:
        """The student's head embeddings of global views (what collapse would flatten)."""
        pooled = student[self.stem, self._global_group].pooled
        if isinstance(self.head, ProjectionHead):
            return {f'{self.name}_embedding': self.head(pooled.detach())}
        return {f'{self.name}_pooled': pooled.detach()}
