"""The encoders a probe reads, behind one interface, built from a backbone spec string.

A spec names what to evaluate, so one YAML per dataset serves every backbone:

- a file: a dtcd Lightning checkpoint, a ``.safetensors`` export or the DEO authors' ``.pth``
  (:func:`dtcd.models.load_backbone` tells them apart by content);
- ``random:<variant>``: an untrained :class:`~dtcd.models.MultiStemSwin` (the floor any
  pretraining must beat), with ``backbone_kwargs`` overriding the architecture;
- ``timm:<name>``: a timm baseline such as ``timm:vit_base_patch16_dinov3``, random unless
  ``weights`` names a local file. timm models see the RGB bands only, as the paper's RGB
  baselines do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import timm
from timm.optim import param_groups_layer_decay
from torch import Tensor, nn

from dtcd.bands import RGB
from dtcd.models import MultiStemSwin, StageFeatures, load_backbone
from dtcd.models.stems import choose_stem

__all__ = ['SPEC_FORMS', 'ProbeBackbone', 'SwinBackbone', 'TimmBackbone', 'build_backbone']

SPEC_FORMS = (
    'PATH to a dtcd Lightning checkpoint (.ckpt), an exported .safetensors, or the DEO '
    "authors' .pth",
    'random:<variant>  an untrained MultiStemSwin (swin_t, swin_s, swin_b; backbone_kwargs '
    'override embed_dim, depths, num_heads, window_size, ...)',
    'timm:<model>  a timm baseline, e.g. timm:vit_base_patch16_dinov3 (random weights unless '
    'backbone_weights names a local file; fed the RGB bands)',
)
#: ViT blocks read by the DEO evaluation (PAPER.md §3.2), by depth.
PAPER_VIT_BLOCKS = {12: (3, 5, 8, 11), 24: (3, 9, 17, 23)}

Pool = Literal['raw', 'norm']


class ProbeBackbone(nn.Module):
    """What a probe needs from an encoder.

    Attributes:
        model: The wrapped network.
        bands: Input band names, in channel order.
        feature_dims: Channels of the four maps :meth:`encode` returns.
        num_features: Width of its pooled vector.
        pyramid: Whether the maps already are at strides 4, 8, 16, 32 (else: one stride).
    """

    model: nn.Module
    bands: tuple[str, ...]
    feature_dims: list[int]
    num_features: int
    pyramid: bool

    def encode(self, x: Tensor, pool: Pool = 'norm') -> StageFeatures:
        """Four NCHW maps, finest first, and one vector per image ``[B, num_features]``, from
        one pass."""
        raise NotImplementedError

    def lr_scales(self, decay: float) -> dict[str, float]:
        """Layer-wise learning-rate factor of each parameter name: ``decay ** depth-from-top``.

        The layers are the model's own ``group_matcher`` (timm's convention), through timm's
        ``param_groups_layer_decay``: for a :class:`~dtcd.models.MultiStemSwin`, the stems are
        layer 0, block k is layer k + 1, a patch merging joins the next block and the final norm
        is the top; a timm model groups its parameters itself.
        """
        groups = param_groups_layer_decay(self.model, 0.0, layer_decay=decay)
        scale_of = {id(p): g['lr_scale'] for g in groups for p in g['params']}
        return {name: scale_of.get(id(p), 1.0) for name, p in self.named_parameters()}


class SwinBackbone(ProbeBackbone):
    """A :class:`~dtcd.models.MultiStemSwin` read through one stem.

    Args:
        model: The student.
        stem: The stem to feed.
    """

    pyramid = True

    def __init__(self, model: MultiStemSwin, stem: str) -> None:
        super().__init__()
        self.model, self.stem = model, stem
        self.bands = model.bands[stem]
        self.feature_dims = list(model.feature_dims)
        self.num_features = model.num_features

    def encode(self, x: Tensor, pool: Pool = 'norm') -> StageFeatures:
        """The four raw stage outputs (no final norm), as DEO's segmentation reads them, and the
        GAP of stage 4 before the final LayerNorm (``'raw'``, DEO's probe) or after it."""
        maps = self.model.forward_features(x, self.stem)
        pooled = maps[-1].mean(dim=(2, 3)) if pool == 'raw' else self.model.pool(maps[-1])
        return StageFeatures(maps, pooled)


class TimmBackbone(ProbeBackbone):
    """A timm model fed the RGB bands: plain ViTs give four blocks, others their last stages.

    Args:
        model: A timm model with ``forward_intermediates``.
        blocks: ViT blocks to read (default: the paper's for depth 12 or 24, else evenly spaced).
    """

    bands = RGB

    def __init__(self, model: nn.Module, blocks: Sequence[int] | None = None) -> None:
        super().__init__()
        self.model = model
        self.pyramid = not hasattr(model, 'blocks')
        self.num_features = int(model.num_features)
        if self.pyramid:
            self.indices: int | list[int] = 4
            self.feature_dims = [info['num_chs'] for info in model.feature_info[-4:]]
        else:
            depth = len(model.blocks)
            self.indices = list(blocks or PAPER_VIT_BLOCKS.get(depth) or _evenly(depth))
            if len(self.indices) != 4 or not all(0 <= b < depth for b in self.indices):
                raise ValueError(f'Need 4 ViT blocks in [0, {depth}), got {self.indices}.')
            self.feature_dims = [int(model.embed_dim)] * 4

    def encode(self, x: Tensor, pool: Pool = 'norm') -> StageFeatures:
        """Intermediate outputs as NCHW maps (prefix tokens dropped) and the model's own
        pre-logits pooling of its final features (``pool`` applies to Swin students only)."""
        final, maps = self.model.forward_intermediates(
            x, indices=self.indices, norm=False, output_fmt='NCHW'
        )
        return StageFeatures(list(maps), self.model.forward_head(final, pre_logits=True))


def _evenly(depth: int) -> list[int]:
    return [round((i + 1) * depth / 4) - 1 for i in range(4)]


def build_backbone(
    spec: str,
    data_bands: Sequence[str],
    kwargs: Mapping[str, Any] | None = None,
    weights: str | None = None,
    vit_blocks: Sequence[int] | None = None,
) -> ProbeBackbone:
    """The encoder a spec names, reading the richest input the data offers.

    Args:
        spec: See :data:`SPEC_FORMS`.
        data_bands: Band names of the data's channels.
        kwargs: Architecture overrides (``random:``) or ``timm.create_model`` arguments.
        weights: Local weights file for a ``timm:`` model.
        vit_blocks: ViT blocks whose outputs feed dense heads.

    Raises:
        ValueError: An unknown spec form, naming the accepted ones.
        MissingBandError: No stem's bands are all in the data.
    """
    kwargs = dict(kwargs or {})
    if spec.startswith('timm:'):
        return TimmBackbone(_timm_model(spec[len('timm:') :], weights, kwargs), vit_blocks)
    if weights is not None:
        raise ValueError('backbone_weights is for timm: backbones; a file spec is the weights.')
    if spec.startswith('random:'):
        variant = spec[len('random:') :] or None
        model = MultiStemSwin(variant=variant, **kwargs)
    elif Path(spec).expanduser().is_file():
        if kwargs:
            raise ValueError('backbone_kwargs apply to random: and timm: backbones only.')
        model = load_backbone(Path(spec).expanduser())
    else:
        forms = '\n  '.join(SPEC_FORMS)
        raise ValueError(
            f'Backbone spec {spec!r} is neither an existing file nor a known form. Accepted:\n  '
            f'{forms}'
        )
    return SwinBackbone(model, choose_stem(model, bands=data_bands)[0])


def _timm_model(name: str, weights: str | None, kwargs: dict[str, Any]) -> nn.Module:
    """``timm.create_model`` without the hub: random, or weights from a local file."""
    kwargs.setdefault('num_classes', 0)
    if weights is None:
        return timm.create_model(name, pretrained=False, **kwargs)
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f'Weights for timm:{name} not found at {path}.')
    return timm.create_model(
        name, pretrained=True, pretrained_cfg_overlay={'file': str(path)}, **kwargs
    )
