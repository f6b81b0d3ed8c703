"""Dense-prediction heads for the probes: UPerNet, a light FCN, a ViT pyramid neck, siamese fusion.

All decoders take the four stage maps a hierarchical backbone gives (NCHW, strides 4, 8, 16, 32)
and return logits at the resolution of the first map (stride 4); the probe upsamples them to the
input size. Plain ViTs give four maps at one stride, so :class:`SimplePyramid` rescales them
first, as the DEO evaluation does for its ViT baselines (PAPER.md §3.2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['FCN', 'ConvNormReLU', 'SiameseFusion', 'SimplePyramid', 'UPerNet']

#: ``'batch'``: mmsegmentation's default. ``'group'``: for batches of one (OSCD's few regions),
#: where BatchNorm cannot normalise UPerNet's 1×1 pooled branch.
Norm = Literal['batch', 'group']


class ConvNormReLU(nn.Sequential):
    """Conv (no bias) + BatchNorm or GroupNorm + ReLU: mmsegmentation's ``ConvModule``."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 1, norm: Norm = 'batch'
    ) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_channels)
            if norm == 'batch'
            else nn.GroupNorm(_groups(out_channels), out_channels),
            nn.ReLU(inplace=True),
        )


def _groups(channels: int) -> int:
    """Up to 32 groups (the GroupNorm paper's), of at least 2 channels for 1×1 pooled maps."""
    return math.gcd(32, max(channels // 2, 1))


def _resize(x: Tensor, size: Sequence[int]) -> Tensor:
    return F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=False)


class UPerNet(nn.Module):
    """UPerNet (Xiao et al., 2018) after mmsegmentation's ``UPerHead``: PPM on the last map, FPN.

    Args:
        in_channels: Channels of the four input maps, finest first.
        num_classes: Output channels.
        channels: Width of every internal map (512 in DEO's evaluation).
        pool_scales: Pyramid-pooling grid sizes on the coarsest map.
        dropout: Dropout before the classifier (mmsegmentation's 0.1).
        norm: Normalisation of every conv block.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        channels: int = 512,
        pool_scales: Sequence[int] = (1, 2, 3, 6),
        dropout: float = 0.1,
        norm: Norm = 'batch',
    ) -> None:
        super().__init__()
        *fine, coarse = in_channels
        self.ppm = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(scale), ConvNormReLU(coarse, channels, 1, norm))
            for scale in pool_scales
        )
        self.bottleneck = ConvNormReLU(coarse + len(pool_scales) * channels, channels, 3, norm)
        self.lateral = nn.ModuleList(ConvNormReLU(c, channels, 1, norm) for c in fine)
        self.fpn = nn.ModuleList(ConvNormReLU(channels, channels, 3, norm) for _ in fine)
        self.fuse = ConvNormReLU(len(in_channels) * channels, channels, 3, norm)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        """Four NCHW maps, finest first → logits ``[B, num_classes, H/4, W/4]``."""
        *fine, coarse = features
        size = coarse.shape[-2:]
        pooled = [_resize(branch(coarse), size) for branch in self.ppm]
        levels = [conv(x) for conv, x in zip(self.lateral, fine, strict=True)]
        levels.append(self.bottleneck(torch.cat([coarse, *pooled], dim=1)))
        for i in range(len(levels) - 1, 0, -1):  # top-down pathway
            levels[i - 1] = levels[i - 1] + _resize(levels[i], levels[i - 1].shape[-2:])
        outputs = [conv(x) for conv, x in zip(self.fpn, levels[:-1], strict=True)]
        outputs.append(levels[-1])
        target = outputs[0].shape[-2:]
        fused = self.fuse(torch.cat([outputs[0], *(_resize(x, target) for x in outputs[1:])], 1))
        return self.classifier(self.dropout(fused))


class FCN(nn.Module):
    """A light alternative to UPerNet: all maps resized to stride 4, concatenated, two convs.

    Args:
        in_channels: Channels of the input maps, finest first.
        num_classes: Output channels.
        channels: Width of the internal maps.
        dropout: Dropout before the classifier.
        norm: Normalisation of the conv blocks.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        channels: int = 256,
        dropout: float = 0.1,
        norm: Norm = 'batch',
    ) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            ConvNormReLU(sum(in_channels), channels, 1, norm),
            ConvNormReLU(channels, channels, 3, norm),
        )
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        """NCHW maps, finest first → logits at the finest map's resolution."""
        size = features[0].shape[-2:]
        x = torch.cat([features[0], *(_resize(f, size) for f in features[1:])], dim=1)
        return self.classifier(self.dropout(self.convs(x)))


class SimplePyramid(nn.Module):
    """Rescale four same-stride ViT maps by ×4, ×2, ×1 and ×0.5 (BEiT / ViTDet style).

    Learned 2×2 transposed convolutions upsample, max pooling downsamples; a ViT/16 then feeds a
    pyramid decoder at strides 4, 8, 16 and 32 like a Swin does.

    Args:
        embed_dim: Channels of each ViT map (unchanged by the neck).
    """

    def __init__(self, embed_dim: int) -> None:
        super().__init__()
        self.scales = nn.ModuleList(
            [
                nn.Sequential(
                    nn.ConvTranspose2d(embed_dim, embed_dim, 2, stride=2),
                    nn.BatchNorm2d(embed_dim),
                    nn.GELU(),
                    nn.ConvTranspose2d(embed_dim, embed_dim, 2, stride=2),
                ),
                nn.ConvTranspose2d(embed_dim, embed_dim, 2, stride=2),
                nn.Identity(),
                nn.MaxPool2d(2),
            ]
        )

    def forward(self, features: Sequence[Tensor]) -> list[Tensor]:
        """Four ``[B, D, h, w]`` maps → ``[B, D, 4h, 4w]``, ``2h``, ``h`` and ``h/2``."""
        if len(features) != len(self.scales):
            raise ValueError(f'SimplePyramid takes 4 maps, got {len(features)}.')
        return [scale(x) for scale, x in zip(self.scales, features, strict=True)]


class SiameseFusion(nn.Module):
    """Fuse the per-stage maps of two dates from a shared encoder.

    ``'diff'`` (the default) takes ``|a - b|``: symmetric in the dates and zero where nothing
    changed. ``'concat'`` stacks both along channels and lets the decoder learn the comparison.

    Args:
        mode: ``'diff'`` or ``'concat'``.
    """

    def __init__(self, mode: Literal['diff', 'concat'] = 'diff') -> None:
        super().__init__()
        if mode not in ('diff', 'concat'):
            raise ValueError(f"fusion must be 'diff' or 'concat', got {mode!r}.")
        self.mode = mode

    def out_channels(self, in_channels: Sequence[int]) -> list[int]:
        """Channels of the fused maps."""
        return [c * (2 if self.mode == 'concat' else 1) for c in in_channels]

    def forward(self, before: Sequence[Tensor], after: Sequence[Tensor]) -> list[Tensor]:
        """Per-stage fusion of two lists of NCHW maps."""
        if self.mode == 'diff':
            return [(a - b).abs() for a, b in zip(before, after, strict=True)]
        return [torch.cat([a, b], dim=1) for a, b in zip(before, after, strict=True)]
