"""What the EMA teacher and the student are trained to agree on, one class per objective.

:class:`~dtcd.distill.SelfDistillation` owns the EMA copy and the view passes; the objective
owns the head, turns the teacher's head outputs into targets, computes the loss and updates its
own state (centers). Chosen in YAML by ``class_path``, so each objective takes only its own
options:

- :class:`MCRObjective`: DEO's (SimDINO's) cross-view cosine plus coding-rate expansion.
- :class:`DINOObjective`: DINO prototypes with centering or Sinkhorn-Knopp, optionally KoLeo and
  iBOT's masked-patch loss (the student sees block-masked global views, the teacher unmasked
  ones; last-stage tokens go through the shared prototype head, iBOT's default).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

import torch
from lightly.models.utils import random_block_mask
from torch import Tensor, nn

from dtcd.losses import MCRLoss
from dtcd.losses.dino import DINOLoss, IBOTPatchLoss, KoLeoLoss
from dtcd.models import DINOHead, ProjectionHead

#: Named tensors: targets, or loss terms with the total under ``'loss'``.
Terms = dict[str, Tensor]


@dataclass
class StudentSide:
    """What the student hands an objective.

    Attributes:
        pooled: Embeddings ``[V, B, D]``, global views first.
        last_stage: Last feature map of the global views ``[G·B, C, h, w]``.
        masks: The global views' masks ``[G·B, h, w]``, when the objective masks.
    """

    pooled: Tensor
    last_stage: Tensor
    masks: Tensor | None = None


class Objective(nn.Module, ABC):
    """An objective of self-distillation; ``masks`` says whether it masks the student's views.

    ``teacher`` is the EMA teacher's head outputs ``[G, B, K]``, ``tokens`` its head outputs of
    the last-stage tokens ``[G·B, h·w, K]`` (only when ``masks``).
    """

    masks: bool = False

    @abstractmethod
    def make_head(self, in_dim: int) -> nn.Module:
        """The student's head (the EMA teacher gets a copy)."""

    @abstractmethod
    def targets(self, teacher: Tensor, tokens: Tensor | None, progress: float) -> Terms:
        """Targets from the teacher's head outputs (no gradient)."""

    @abstractmethod
    def loss(self, head: nn.Module, student: StudentSide, targets: Terms) -> Terms:
        """Named terms; ``'loss'`` is the objective's total."""

    def update(self) -> None:
        """After each optimizer step (centers); nothing by default."""

    def before_optimizer_step(self, head: nn.Module, progress: float) -> None:
        """With gradients ready, before each optimizer step; nothing by default."""

    def sample_masks(self, grid: tuple[int, int, int], device: torch.device) -> Tensor:
        """Block masks ``[G·B, h, w]`` on the student's mask grid (only when ``masks``)."""
        raise NotImplementedError(f'{type(self).__name__} does not mask views.')

    def monitored(self, head: nn.Module, pooled: Tensor) -> Terms:
        """Embeddings worth watching for collapse, ``[N, D]`` by suffix."""
        return {'pooled': pooled}


class MCRObjective(Objective):
    """SimDINO's MCR (DEO): cross-view cosine compression and coding-rate expansion.

    Args:
        out_dim: Embedding width (256 in DEO).
        hidden_dim: Hidden width of the projection head.
        eps: Coding-rate precision ε (0.05 in DEO's command).
        coeff: Weight of the compression term.
    """

    def __init__(
        self, out_dim: int = 256, hidden_dim: int = 2048, eps: float = 0.05, coeff: float = 1.0
    ) -> None:
        super().__init__()
        self.out_dim, self.hidden_dim = out_dim, hidden_dim
        self.criterion = MCRLoss(eps=eps, coeff=coeff)

    def make_head(self, in_dim: int) -> nn.Module:
        """A 3-layer MLP with L2-normalised output."""
        return ProjectionHead(in_dim, self.out_dim, self.hidden_dim)

    def targets(self, teacher: Tensor, tokens: Tensor | None, progress: float) -> Terms:
        """The teacher's embeddings themselves."""
        return {'views': teacher}

    def loss(self, head: nn.Module, student: StudentSide, targets: Terms) -> Terms:
        """``loss``, ``compression`` and ``expansion``."""
        return self.criterion(head(student.pooled), targets['views'])

    def monitored(self, head: nn.Module, pooled: Tensor) -> Terms:
        """The head's embeddings (what collapse would flatten)."""
        return {'embedding': head(pooled)}


@torch.no_grad()
def target_spread(probs: Tensor) -> Terms:
    """Normalised entropies of ``[..., K]`` targets: of each one, and of their mean."""
    flat = probs.detach().float().flatten(0, -2)
    log_k = math.log(flat.shape[-1])

    def entropy(p: Tensor) -> Tensor:
        return -(p * p.clamp_min(1e-12).log()).sum(dim=-1)

    return {
        'target_entropy': entropy(flat).mean() / log_k,
        'target_usage': entropy(flat.mean(dim=0)) / log_k,
    }


class DINOObjective(Objective):
    """DINO prototypes, with optional KoLeo and iBOT.

    Args:
        out_dim: Number of prototypes.
        hidden_dim: Hidden width of the head.
        bottleneck_dim: Head bottleneck width.
        centering: Teacher de-biasing, ``'center'`` or ``'sinkhorn'``.
        teacher_temp: Teacher temperature after warm-up.
        warmup_teacher_temp: Teacher temperature at the start.
        warmup_teacher_temp_fraction: Share of training over which the temperature rises.
        student_temp: Student temperature.
        koleo_weight: Weight of KoLeo on the student's pooled global features (0 disables it).
        ibot_weight: Weight of the iBOT masked-patch loss (0 disables masking).
        mask_probability: Share of global views that are masked (iBOT).
        mask_ratio: Range of the masked share of a masked view's cells.
        freeze_last_layer_fraction: Share of training with frozen prototypes.
    """

    def __init__(
        self,
        out_dim: int = 65536,
        hidden_dim: int = 2048,
        bottleneck_dim: int = 256,
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
    ) -> None:
        super().__init__()
        self.out_dim, self.hidden_dim, self.bottleneck_dim = out_dim, hidden_dim, bottleneck_dim
        self.koleo_weight, self.ibot_weight = koleo_weight, ibot_weight
        self.mask_probability, self.mask_ratio = mask_probability, mask_ratio
        self.freeze_last_layer_fraction = freeze_last_layer_fraction
        self.masks = ibot_weight > 0
        options = {
            'student_temp': student_temp,
            'teacher_temp': teacher_temp,
            'warmup_teacher_temp': warmup_teacher_temp,
            'warmup_fraction': warmup_teacher_temp_fraction,
            'centering': centering,
        }
        self.criterion = DINOLoss(out_dim, **options)
        self.koleo = KoLeoLoss() if koleo_weight > 0 else None
        if self.masks:  # patch targets get their own center, as in iBOT
            self.patch_criterion = DINOLoss(out_dim, **options)
            self.ibot = IBOTPatchLoss(student_temp)

    def make_head(self, in_dim: int) -> nn.Module:
        """DINO's head: MLP, bottleneck, weight-normalised prototypes."""
        return DINOHead(in_dim, self.out_dim, self.hidden_dim, self.bottleneck_dim)

    def targets(self, teacher: Tensor, tokens: Tensor | None, progress: float) -> Terms:
        """Sharpened, centred prototype probabilities of views (and of tokens, for iBOT)."""
        targets = {'views': self.criterion.teacher_probs(teacher, progress)}
        if self.masks and tokens is not None:
            targets['patch'] = self.patch_criterion.teacher_probs(tokens, progress)
        return targets

    def loss(self, head: nn.Module, student: StudentSide, targets: Terms) -> Terms:
        """``dino`` (+ ``ibot``, ``koleo``), their weighted ``loss``, and the targets' shape.

        ``target_entropy`` (mean entropy of one target, / ln K) near 1 is the uniform collapse
        (the loss sits at ln K); ``target_usage`` (entropy of the batch's mean target, / ln K)
        near 0 is the one-prototype collapse. Logged, not trained on.
        """
        terms = {'dino': self.criterion(head(student.pooled), targets['views'])}
        terms |= target_spread(targets['views'])
        if self.masks and student.masks is not None:
            tokens = head(student.last_stage.flatten(2).transpose(1, 2))
            terms['ibot'] = self.ibot(tokens, targets['patch'], student.masks.flatten(1))
        if self.koleo is not None:
            global_views = student.pooled[: targets['views'].shape[0]]
            terms['koleo'] = torch.stack([self.koleo(v) for v in global_views]).sum()
        total = terms['dino']
        if 'koleo' in terms:
            total = total + self.koleo_weight * terms['koleo']
        if 'ibot' in terms:
            total = total + self.ibot_weight * terms['ibot']
        terms['loss'] = total
        return terms

    def update(self) -> None:
        """Center steps (views, and patches for iBOT)."""
        self.criterion.update()
        if self.masks:
            self.patch_criterion.update()

    def before_optimizer_step(self, head: nn.Module, progress: float) -> None:
        """Keep the prototypes fixed during the first ``freeze_last_layer_fraction``."""
        if isinstance(head, DINOHead) and progress < self.freeze_last_layer_fraction:
            head.cancel_last_layer_gradients()

    def sample_masks(self, grid: tuple[int, int, int], device: torch.device) -> Tensor:
        """DINOv2-style block masks."""
        largest = max(1, math.ceil(grid[1] * grid[2] * self.mask_ratio[1]))
        return random_block_mask(
            grid,
            batch_mask_ratio=self.mask_probability,
            min_image_mask_ratio=self.mask_ratio[0],
            max_image_mask_ratio=self.mask_ratio[1],
            min_num_masks_per_block=1,
            max_num_masks_per_block=largest,
            device=device,
        )
