"""dtcd students as TerraTorch backbones, for its ``EncoderDecoderFactory`` and ``terratorch fit``.

TerraTorch has no plug-in discovery: ``import dtcd.integrations.terratorch`` registers
``dtcd_swin`` (any size; the architecture is read from ``ckpt_path``), ``dtcd_swin_t`` and
``dtcd_swin_b`` in its ``TERRATORCH_BACKBONE_REGISTRY``. In a TerraTorch YAML, one line does the
import: ``custom_modules_path:`` naming :data:`dtcd.integrations.TERRATORCH_PLUGIN` (or the
``TERRATORCH_CUSTOM_MODULE_PATH`` variable).

The backbones take TerraTorch's own arguments: ``pretrained``, ``ckpt_path`` (a ``dtcd export``
file, a dtcd checkpoint or the DEO authors' weights, read by dtcd's safe loaders), ``bands`` or
``model_bands`` in TerraTorch's vocabulary (``BLUE``, ``NIR_NARROW``, ...) or Sentinel-2 names, and
``out_indices``; ``forward`` returns NCHW stage maps, ``out_channels`` their widths.

The band policy is :func:`dtcd.models.stems.adapt_to_bands`: the stem sharing most bands
with the data runs, rebuilt for the data's bands (a lacking band dropped, as if fed at its
pretraining mean; an unseen band with zero weights; each named in a warning).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

from terratorch.registry import TERRATORCH_BACKBONE_REGISTRY
from torch import Tensor, nn

from dtcd.bands import canonical_bands
from dtcd.integrations.timm import SIZES
from dtcd.models import MultiStemSwin
from dtcd.models.checkpoints import architecture, export_info
from dtcd.models.stems import adapt_to_bands
from dtcd.models.student import PATCH_SIZE

__all__ = ['TerraTorchSwin', 'standardization']


class TerraTorchSwin(nn.Module):
    """One stem of a :class:`~dtcd.models.MultiStemSwin` in TerraTorch's backbone interface.

    Args:
        backbone: A student with the single stem to run.
        out_indices: Stages to return (0-3, shallow to deep).
    """

    #: TerraTorch pads inputs to a multiple of twice this (a stride-4 patch embedding).
    patch_size = PATCH_SIZE

    def __init__(self, backbone: MultiStemSwin, out_indices: Sequence[int] = (0, 1, 2, 3)) -> None:
        super().__init__()
        if len(backbone.stems) != 1:
            raise ValueError(f'TerraTorchSwin runs one stem; got {list(backbone.stems)}.')
        self.backbone = backbone
        self.stem = next(iter(backbone.stems))
        self.bands = backbone.bands[self.stem]
        self.out_indices = list(out_indices)
        if not all(0 <= i < len(backbone.feature_dims) for i in self.out_indices):
            raise ValueError(f'out_indices {self.out_indices}: stages are 0-3.')
        self.out_channels = [backbone.feature_dims[i] for i in self.out_indices]

    def forward(self, x: Tensor, **kwargs: object) -> list[Tensor]:
        """The ``out_indices`` stage maps of ``[B, C, H, W]`` (channels in :attr:`bands` order)."""
        maps = self.backbone.forward_features(x, self.stem)
        return [maps[i] for i in self.out_indices]


def _data_bands(
    bands: Sequence[object] | None, model_bands: Sequence[object] | None
) -> tuple[str, ...] | None:
    if bands is not None and model_bands is not None and list(bands) != list(model_bands):
        raise ValueError(f'bands={list(bands)} and model_bands={list(model_bands)} disagree.')
    given = bands if bands is not None else model_bands
    return None if given is None else canonical_bands(given)


def _build(
    name: str,
    pretrained: bool,
    ckpt_path: str | Path | None,
    bands: Sequence[object] | None,
    model_bands: Sequence[object] | None,
    stem: str | None,
    out_indices: Sequence[int],
) -> TerraTorchSwin:
    if name == 'dtcd_swin' and ckpt_path is None:
        raise ValueError(
            'dtcd_swin reads its architecture from ckpt_path (a `dtcd export` file, a dtcd '
            'checkpoint or the DEO weights); pass backbone_ckpt_path, or use dtcd_swin_t / '
            'dtcd_swin_b.'
        )
    if pretrained and ckpt_path is None:
        raise ValueError(f'{name}: no weights on any hub; pass ckpt_path, or pretrained=False.')
    if pretrained:
        backbone = MultiStemSwin.from_pretrained(ckpt_path)
    elif name == 'dtcd_swin':  # the file's architecture, fresh weights
        backbone = MultiStemSwin(**architecture(ckpt_path))
    else:
        if ckpt_path is not None:
            warnings.warn(
                f'{name}: pretrained=False, so ckpt_path {ckpt_path} is not read.', stacklevel=3
            )
        variant, window = SIZES[name]
        backbone = MultiStemSwin(variant, window_size=window)
    if name in SIZES and (backbone.variant, backbone.window_size) != SIZES[name]:
        raise ValueError(
            f'{ckpt_path} holds a {backbone.variant or "custom"} student with window '
            f'{backbone.window_size}, not {name} {SIZES[name]}; use dtcd_swin.'
        )
    adapted = adapt_to_bands(backbone, _data_bands(bands, model_bands), stem)
    return TerraTorchSwin(adapted, out_indices)


def standardization(file: str | Path, bands: Sequence[object]) -> dict[str, list[float]]:
    """``means`` and ``stds`` of an export's pretraining data in the order of ``bands``, for a
    TerraTorch datamodule's arguments of the same names (in the units the student saw)."""
    statistics = export_info(file).get('normalization')
    if not statistics:
        raise ValueError(f'{file} records no normalisation statistics (exported before dtcd 0.1).')
    names = canonical_bands(bands)
    missing = [b for b in names if b not in statistics]
    if missing:
        raise ValueError(f'{file} has no statistics for {missing}; it has {list(statistics)}.')
    return {'means': [statistics[b][0] for b in names], 'stds': [statistics[b][1] for b in names]}


def _register(name: str) -> None:
    def factory(
        pretrained: bool = False,
        ckpt_path: str | None = None,
        bands: Sequence[object] | None = None,
        model_bands: Sequence[object] | None = None,
        stem: str | None = None,
        out_indices: Sequence[int] = (0, 1, 2, 3),
    ) -> TerraTorchSwin:
        return _build(name, pretrained, ckpt_path, bands, model_bands, stem, out_indices)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f'The {name} dtcd student as a TerraTorch backbone (see the module).'
    TERRATORCH_BACKBONE_REGISTRY.register(factory)


for _name in ('dtcd_swin', *SIZES):
    _register(_name)
