"""The DEO training step in plain torchvision / timm code: the yardstick for dtcd's wrappers.

:class:`PlainDEO` rebuilds a :class:`~dtcd.pretrain.DistillationModule`'s networks the way the
DEO authors build theirs (PAPER.md §2.4–2.6): torchvision's Swin body with ``features[0]``
deleted, ``Sequential(Conv2d, Permute, LayerNorm)`` stems, ``nn.Sequential`` MLP heads, a
deep-copied EMA body and the frozen timm model called directly. The weights are the module's, so
both sides do the same work on the same crops; :func:`plain_losses` is the authors' loss
(PAPER.md §2.3, §2.4) written without dtcd's loss code, one pass per (stem, crop size) as
DINO's multi-crop wrapper runs them. ``tests/test_reference_step.py`` checks that it gives dtcd's
loss terms and gradients.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops.misc import Permute

from dtcd.augment import MultiCropViews
from dtcd.bands import band_indices
from dtcd.distill import MCRObjective, OpticalDistillation, SelfDistillation
from dtcd.models import MultiStemSwin
from dtcd.pretrain import DistillationModule

#: Called at each phase boundary with the phase's name (a :class:`PhaseTimer`'s ``mark``).
Mark = Callable[[str], None]


# ----------------------------------------------------- the authors' formulas (PAPER.md §2.3-2.5)
def mlp_head(mlp: nn.Module, x: Tensor) -> Tensor:
    """A DINOHead without prototypes: the MLP's L2-normalised output."""
    return F.normalize(mlp(x), dim=-1)


def cross_view(teacher: Tensor, student: Tensor) -> Tensor:
    """Σ_u Σ_{v≠u} mean_b cos(T_u, S_v) / (2V − 2), over 2 teacher and V student views."""
    views = student.shape[0]
    total = sum(
        F.cosine_similarity(teacher[u], student[v], dim=-1).mean()
        for u in range(teacher.shape[0])
        for v in range(views)
        if v != u
    )
    return total / (2 * views - 2)


def coding_rate(z: Tensor, eps: float) -> Tensor:
    """½ logdet(I + p/(m·ε) ZᵀZ) through torch.logdet (not a Cholesky factor)."""
    m, p = z.shape
    return 0.5 * torch.logdet(torch.eye(p, device=z.device) + p / (m * eps) * z.T @ z)


# ------------------------------------------------------------------------------------ model
def plain_stem(stem: nn.Module) -> nn.Sequential:
    """A dtcd ``PatchStem`` as the authors write it: Conv2d, NHWC Permute, LayerNorm."""
    conv, norm = copy.deepcopy(stem.proj), copy.deepcopy(stem.norm)
    return nn.Sequential(conv, Permute([0, 2, 3, 1]), norm)


class PlainSwin(nn.Module):
    """torchvision's Swin stages and final norm behind one plain stem per modality."""

    def __init__(self, student: MultiStemSwin, stems: tuple[str, ...]) -> None:
        super().__init__()
        self.features = copy.deepcopy(student.features)
        self.norm = copy.deepcopy(student.norm)
        self.stems = nn.ModuleDict({name: plain_stem(student.stems[name]) for name in stems})

    def forward(self, x: Tensor, stem: str, keep: tuple[int, ...] = ()) -> tuple[Tensor, list]:
        """Pooled normalised last stage ``[B, C]`` and the NHWC outputs of ``features[keep]``."""
        h = self.stems[stem](x)
        kept = []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in keep:
                kept.append(h)
        return self.norm(h).mean(dim=(1, 2)), kept


def channel_slice(bands: tuple[str, ...], wanted: tuple[str, ...]) -> slice:
    """The channels of ``wanted`` in ``bands`` as a slice (a view), as the authors take them."""
    index = band_indices(bands, wanted)
    if index != list(range(index[0], index[0] + len(index))):
        raise ValueError(f'PlainDEO slices {wanted} as the authors do: consecutive channels.')
    return slice(index[0], index[0] + len(index))


class PlainDEO(nn.Module):
    """A DEO module's student, heads and teachers as plain torchvision / timm modules.

    Args:
        module: A DistillationModule with a :class:`MultiStemSwin` student, an MCR
            :class:`SelfDistillation` and an :class:`OpticalDistillation` (DEO's setting).
    """

    def __init__(self, module: DistillationModule) -> None:
        super().__init__()
        ms = next(t for t in module.teachers if isinstance(t, SelfDistillation))
        optical = next(t for t in module.teachers if isinstance(t, OpticalDistillation))
        if not isinstance(ms.objective, MCRObjective) or not isinstance(
            module.student, MultiStemSwin
        ):
            raise ValueError('PlainDEO rebuilds DEO: a MultiStemSwin student with MCR.')
        self.student = PlainSwin(module.student, (ms.stem, optical.stem))
        self.ema = PlainSwin(ms.teacher.backbone, (ms.stem,)).requires_grad_(False)
        self.ema.train(ms.teacher.training)
        self.head_ms = copy.deepcopy(ms.head.mlp)
        self.ema_head = copy.deepcopy(ms.teacher.head.mlp).requires_grad_(False)
        self.cls_head = copy.deepcopy(optical.cls_head.mlp)
        self.patch_heads = copy.deepcopy(nn.ModuleList(h.mlp for h in optical.patch_heads))
        # The frozen timm model's own (eager) method; the model is shared, never trained.
        object.__setattr__(self, 'frozen', optical.teacher.model.forward_intermediates)
        self.blocks = list(optical.teacher.blocks)
        self.stages = tuple(2 * s for s in optical.stages)  # stages sit at features[0, 2, 4, 6]
        self.ms_stem, self.rgb_stem, self.eps = ms.stem, optical.stem, ms.objective.criterion.eps
        bands = module.multicrop.bands
        self.ms = channel_slice(bands, module.student.bands[ms.stem])
        self.rgb = channel_slice(bands, module.student.bands[optical.stem])

    def train(self, mode: bool = True) -> PlainDEO:
        """The EMA body keeps the mode it was copied with (dtcd's eval by default)."""
        ema_mode = self.ema.training
        super().train(mode)
        self.ema.train(ema_mode)
        return self


def plain_losses(model: PlainDEO, views: MultiCropViews, mark: Mark = lambda _: None) -> dict:
    """The authors' loss terms for ``views`` (the MS bands first, as in DEO's files).

    Phases are marked with the names :func:`benchmarks.pretrain_step.train_step` uses.
    """
    num_global, batch = views.global_views.shape[:2]
    global_views, local_views = views.global_views.flatten(0, 1), views.local_views.flatten(0, 1)
    with torch.no_grad():
        pooled, _ = model.ema(global_views[:, model.ms], model.ms_stem)
        teacher_ms = mlp_head(model.ema_head, pooled).unflatten(0, (num_global, batch))
        mark('EMA teacher forward')
        tokens = model.frozen(
            global_views[:, model.rgb],
            indices=model.blocks,
            return_prefix_tokens=True,
            norm=True,
            output_fmt='NCHW',
            intermediates_only=True,
        )
        mark('frozen teacher forward')
    ms_global, _ = model.student(global_views[:, model.ms], model.ms_stem)
    mark(f'student forward {model.ms_stem}/global')
    ms_local, _ = model.student(local_views[:, model.ms], model.ms_stem)
    mark(f'student forward {model.ms_stem}/local')
    rgb_global, maps = model.student(global_views[:, model.rgb], model.rgb_stem, model.stages)
    mark(f'student forward {model.rgb_stem}/global')
    rgb_local, _ = model.student(local_views[:, model.rgb], model.rgb_stem)
    mark(f'student forward {model.rgb_stem}/local')

    ms = mlp_head(model.head_ms, torch.cat([ms_global, ms_local])).unflatten(0, (-1, batch))
    compression = cross_view(teacher_ms, ms)
    dim, rates = ms.shape[-1], []
    for u in range(num_global):
        rates.append(coding_rate((ms[u] + teacher_ms[u]) / 2, model.eps))
    expansion = (dim + batch) / (dim * batch) * sum(rates) / num_global
    teacher_cls = tokens[-1][1][:, 0].unflatten(0, (num_global, batch))
    student_cls = mlp_head(model.cls_head, torch.cat([rgb_global, rgb_local]))
    cls = cross_view(teacher_cls, student_cls.unflatten(0, (-1, batch)))
    patch = []
    for stage_map, head, (target, _) in zip(maps, model.patch_heads, tokens, strict=True):
        mapped = mlp_head(head, stage_map).permute(0, 3, 1, 2)
        mapped = F.interpolate(mapped, size=target.shape[-2:], mode='bilinear')
        patch.append(F.cosine_similarity(mapped, target, dim=1).mean())
    loss = -compression - expansion - (cls + sum(patch) / len(patch)) / 2
    mark('losses')
    return {
        'loss': loss,
        'ms/compression': compression,
        'ms/expansion': expansion,
        'optical/cls_cosine': cls,
        **{f'optical/patch_{i}': p for i, p in enumerate(patch)},
    }
