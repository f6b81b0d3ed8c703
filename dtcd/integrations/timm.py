"""dtcd students as timm models, for code that builds backbones with ``timm.create_model``.

``import dtcd.integrations.timm`` registers (timm has no plug-in discovery):

- ``dtcd_swin``: the architecture is read from an exported student (``dtcd export``), so every
  size dtcd trains loads: ``timm.create_model('dtcd_swin', pretrained=True,
  pretrained_cfg_overlay={'file': 'student.safetensors'})``;
- ``dtcd_swin_t``, ``dtcd_swin_b``: the DEO Swin-T (window 7) and Swin-B (window 12) with the
  default ``ms`` (DEO's 10 bands) and ``rgb`` stems; random weights, or an export of that size.

One stem runs: named by ``stem``, or chosen by ``bands`` (the input's band names, in its channel
order; the model reorders them to the stem's). ``features_only=True`` returns the four stage maps
(NCHW, strides 4-32) through timm's ``FeatureGetterNet`` and ``forward_intermediates``. Weights are
read only by dtcd's safe loaders (safetensors, or checkpoints with ``weights_only``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from timm.models import generate_default_cfgs, register_model
from timm.models._builder import resolve_pretrained_cfg
from timm.models._features import FeatureGetterNet, feature_take_indices
from timm.models._pretrained import PretrainedCfg
from torch import Tensor, nn

from dtcd.models.checkpoints import export_config, export_info
from dtcd.models.stems import choose_stem
from dtcd.models.student import PATCH_SIZE, MultiStemSwin

__all__ = ['TimmSwin', 'register_export']

#: The published DEO sizes: torchvision's Swin-T with window 7, Swin-B with window 12.
SIZES = {'dtcd_swin_t': ('swin_t', 7), 'dtcd_swin_b': ('swin_b', 12)}


class TimmSwin(nn.Module):
    """A :class:`~dtcd.models.MultiStemSwin` with one stem, in timm's model interface
    (``forward_features`` NHWC with the final norm, ``forward_head``, ``forward_intermediates``,
    ``feature_info``, ``reset_classifier``)."""

    def __init__(
        self,
        backbone: MultiStemSwin,
        stem: str | None = None,
        bands: Sequence[str] | None = None,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.stem, channels = choose_stem(backbone, stem, bands)
        self.register_buffer('channels', torch.tensor(channels or []), persistent=False)
        self.in_chans = len(channels) if channels else len(backbone.bands[self.stem])
        self.bands = tuple(bands) if bands is not None else backbone.bands[self.stem]
        self.num_features = self.head_hidden_size = backbone.num_features
        self.feature_info = [
            {'num_chs': width, 'reduction': PATCH_SIZE * 2**i, 'module': f'stages.{i}'}
            for i, width in enumerate(backbone.feature_dims)
        ]
        self.num_classes = num_classes
        self.head = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()

    def _stages(self, x: Tensor) -> list[Tensor]:
        if self.channels.numel():
            x = x.index_select(1, self.channels)
        return self.backbone.forward_features(x, self.stem)

    def forward_intermediates(
        self,
        x: Tensor,
        indices: int | Sequence[int] | None = None,
        norm: bool = False,
        output_fmt: str = 'NCHW',
        intermediates_only: bool = False,
        stop_early: bool = False,
    ) -> list[Tensor] | tuple[Tensor, list[Tensor]]:
        """Stage maps ``indices`` (all four by default), raw as dtcd's probes read them."""
        if norm:
            raise ValueError('dtcd stage maps have no per-stage norm; use norm=False.')
        if output_fmt not in ('NCHW', 'NHWC'):
            raise ValueError(f'output_fmt {output_fmt!r}: NCHW or NHWC.')
        stages = self._stages(x)
        take, _ = feature_take_indices(len(stages), indices)
        maps = [stages[i] for i in take]
        if output_fmt == 'NHWC':
            maps = [m.permute(0, 2, 3, 1) for m in maps]
        if intermediates_only:
            return maps
        return self.backbone.norm(stages[-1].permute(0, 2, 3, 1)), maps

    def forward_features(self, x: Tensor) -> Tensor:
        """The last stage, final norm applied, NHWC (as timm's Swin returns it)."""
        return self.backbone.norm(self._stages(x)[-1].permute(0, 2, 3, 1))

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        pooled = x.mean(dim=(1, 2))  # equals MultiStemSwin.pool: the DEO embedding
        return pooled if pre_logits else self.head(pooled)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        self.num_classes = num_classes
        self.head = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()


def _build(
    name: str,
    pretrained: bool,
    pretrained_cfg: Any = None,
    pretrained_cfg_overlay: dict[str, Any] | None = None,
    features_only: bool = False,
    out_indices: Sequence[int] = (0, 1, 2, 3),
    in_chans: int | None = None,
    num_classes: int = 0,
    stem: str | None = None,
    bands: Sequence[str] | None = None,
    **unused: Any,
) -> nn.Module:
    unused.pop('cache_dir', None)
    if unused:
        raise TypeError(f'{name} does not take {sorted(unused)}.')
    cfg = resolve_pretrained_cfg(name, pretrained_cfg, pretrained_cfg_overlay)
    file = cfg.file
    if name == 'dtcd_swin' and not file:
        raise ValueError(
            'dtcd_swin reads its architecture from an exported student: pass pretrained=True and '
            "pretrained_cfg_overlay={'file': 'student.safetensors'} (from `dtcd export`), name a "
            'tag of register_export, or use dtcd_swin_t / dtcd_swin_b.'
        )
    if pretrained and not file:
        raise ValueError(
            f"{name}: no weights on any hub; pass pretrained_cfg_overlay={{'file': PATH}} with a "
            '`dtcd export`ed student, or pretrained=False.'
        )
    if pretrained:
        backbone = MultiStemSwin.from_pretrained(file)
        if name in SIZES:
            _check_size(name, backbone, file)
    elif name == 'dtcd_swin':  # the export's architecture, random weights (loaded by the caller)
        backbone = MultiStemSwin(**export_config(file))
    else:
        variant, window = SIZES[name]
        backbone = MultiStemSwin(variant, window_size=window)
    model = TimmSwin(backbone, stem=stem, bands=bands, num_classes=num_classes)
    if in_chans is not None and in_chans != model.in_chans:
        raise ValueError(
            f'{name}: in_chans={in_chans}, but stem {model.stem!r} takes {model.in_chans} bands '
            f'{list(model.bands)}; pass bands=[...] naming the input channels, or stem=.'
        )
    model.pretrained_cfg = model.default_cfg = cfg.to_dict()
    statistics = export_info(file).get('normalization') if file else None
    if statistics and all(band in statistics for band in model.bands):
        # timm's data config then standardises as the student was pretrained.
        model.pretrained_cfg['mean'] = tuple(statistics[band][0] for band in model.bands)
        model.pretrained_cfg['std'] = tuple(statistics[band][1] for band in model.bands)
        model.pretrained_cfg['input_size'] = (model.in_chans, 224, 224)
    if features_only:
        return FeatureGetterNet(model, out_indices=list(out_indices), prune=False)
    return model


def _check_size(name: str, backbone: MultiStemSwin, file: str) -> None:
    variant, window = SIZES[name]
    if (backbone.variant, backbone.window_size) != (variant, window):
        raise ValueError(
            f'{file} holds a {backbone.variant or "custom"} student with window '
            f'{backbone.window_size}, not {name} ({variant}, window {window}); '
            'load it as dtcd_swin.'
        )


def _cfg(**kwargs: Any) -> dict[str, Any]:
    return {'num_classes': 0, 'input_size': (10, 224, 224), 'license': 'see the export',
            'first_conv': 'backbone.stems.ms.proj', 'classifier': 'head', **kwargs}  # fmt: skip


default_cfgs = generate_default_cfgs({name: _cfg() for name in ('dtcd_swin', *SIZES)})


def register_export(tag: str, file: str | Path) -> str:
    """Name an exported student ``dtcd_swin.<tag>`` for code that only passes a timm model name
    (TorchGeo's trainers): ``timm.create_model('dtcd_swin.<tag>')`` builds its architecture,
    ``pretrained=True`` also loads its weights. Returns the name."""
    from timm.models import _registry

    name = f'dtcd_swin.{tag}'
    _registry._model_pretrained_cfgs[name] = PretrainedCfg(**_cfg(file=str(file)))
    if name not in _registry._model_with_tags['dtcd_swin']:
        _registry._model_with_tags['dtcd_swin'].append(name)
    return name


@register_model
def dtcd_swin(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """A dtcd student of any size, its architecture read from ``pretrained_cfg_overlay['file']``."""
    return _build('dtcd_swin', pretrained, **kwargs)


@register_model
def dtcd_swin_t(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """The DEO Swin-T student (torchvision Swin-T, window 7, stems ``ms`` and ``rgb``)."""
    return _build('dtcd_swin_t', pretrained, **kwargs)


@register_model
def dtcd_swin_b(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """The DEO Swin-B student (torchvision Swin-B, window 12, stems ``ms`` and ``rgb``)."""
    return _build('dtcd_swin_b', pretrained, **kwargs)
