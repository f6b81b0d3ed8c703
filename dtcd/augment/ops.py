"""dtcd's fast RGB photometric ops as modules, one per op, for the view pipeline's op lists.

Each maps ``[N, 3, H, W]`` RGB in [0, 1] to the same shape with per-crop randomness, like a
``kornia.augmentation`` op (which can stand in for any of them in a YAML list); they wrap the
batched functions of :mod:`dtcd.augment.photometric`, several times faster than Kornia's on the
CPU (``benchmarks/augment_ops.py``). The defaults are DEO's (PAPER.md §2.8).
"""

from __future__ import annotations

from torch import Tensor, nn

from dtcd.augment.photometric import (
    color_jitter,
    random_gaussian_blur,
    random_grayscale,
    random_solarize,
)

__all__ = ['ColorJitter', 'RandomGaussianBlur', 'RandomGrayscale', 'RandomSolarize']


class ColorJitter(nn.Module):
    """Brightness, contrast, saturation and hue jitter of a random ``p`` share of the crops.

    Factors are drawn per crop, the order of the four adjustments once per call (see
    :func:`~dtcd.augment.photometric.color_jitter`).
    """

    def __init__(
        self,
        brightness: float = 0.4,
        contrast: float = 0.4,
        saturation: float = 0.2,
        hue: float = 0.1,
        p: float = 0.8,
    ) -> None:
        super().__init__()
        self.brightness, self.contrast = brightness, contrast
        self.saturation, self.hue, self.p = saturation, hue, p

    def forward(self, rgb: Tensor) -> Tensor:
        return color_jitter(rgb, self.brightness, self.contrast, self.saturation, self.hue, self.p)


class RandomGrayscale(nn.Module):
    """A random ``p`` share of the crops replaced by their ITU-R 601 luma on all channels."""

    def __init__(self, p: float = 0.2) -> None:
        super().__init__()
        self.p = p

    def forward(self, rgb: Tensor) -> Tensor:
        return random_grayscale(rgb, self.p)


class RandomGaussianBlur(nn.Module):
    """A random ``p`` share of the crops blurred, each with its own σ drawn from ``sigma``."""

    def __init__(
        self, p: float = 0.5, kernel_size: int = 23, sigma: tuple[float, float] = (0.1, 2.0)
    ) -> None:
        super().__init__()
        self.p, self.kernel_size, self.sigma = p, kernel_size, tuple(sigma)

    def forward(self, rgb: Tensor) -> Tensor:
        return random_gaussian_blur(rgb, self.p, self.kernel_size, self.sigma)


class RandomSolarize(nn.Module):
    """Pixels at or above ``threshold`` inverted in a random ``p`` share of the crops."""

    def __init__(self, p: float = 0.2, threshold: float = 0.5) -> None:
        super().__init__()
        self.p, self.threshold = p, threshold

    def forward(self, rgb: Tensor) -> Tensor:
        return random_solarize(rgb, self.p, self.threshold)
