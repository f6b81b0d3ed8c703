"""Earth-observation augmentations on all bands, batched per crop: what no anchor library offers.

Each maps ``[N, C, H, W]`` to the same shape with per-crop randomness; which units they see is
set by their :class:`~dtcd.augment.views.ViewOps` entry (``reflectance`` for gain, offset and
noise, ``standardized`` for band dropout).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ['BandDropout', 'BandGainOffset', 'SpectralNoise']


def _chosen(x: Tensor, p: float) -> Tensor:
    """``[N, 1, 1, 1]`` bool: which crops an op with probability ``p`` changes."""
    return (torch.rand(x.shape[0], device=x.device) < p).view(-1, 1, 1, 1)


class BandGainOffset(nn.Module):
    """Per-band gain and offset per crop: ``x' = g·x + o``, ``g ~ U(1 − gain, 1 + gain)``,
    ``o ~ U(−offset, offset)``, drawn independently for every band of a chosen crop.

    What it imitates: the radiometric disagreement of sensors and processing chains. Sentinel-2A
    and 2B agree to within a few percent per band after cross-calibration, and surface reflectance
    from different atmospheric corrections differs by about 0.01-0.02 in the visible bands, so the
    defaults (5 %, 0.01 in reflectance units) stay within what real data varies by.
    """

    def __init__(self, gain: float = 0.05, offset: float = 0.01, p: float = 0.5) -> None:
        super().__init__()
        if not 0 <= gain < 1 or offset < 0:
            raise ValueError(f'gain must be in [0, 1) and offset >= 0; got {gain}, {offset}.')
        self.gain, self.offset, self.p = gain, offset, p

    def forward(self, x: Tensor) -> Tensor:
        n, c = x.shape[:2]
        gains = torch.empty(n, c, 1, 1, device=x.device).uniform_(1 - self.gain, 1 + self.gain)
        offsets = torch.empty(n, c, 1, 1, device=x.device).uniform_(-self.offset, self.offset)
        return torch.where(_chosen(x, self.p), x * gains + offsets, x)


class BandDropout(nn.Module):
    """A random subset of the bands of a chosen crop set to ``fill``, at least one band kept.

    Each band of a chosen crop drops with probability ``drop_p``. In ``standardized`` units the
    default fill 0 is the band's pretraining mean: what dtcd's integrations feed a stem for a band
    a dataset lacks (:func:`dtcd.models.stems.adapt_to_bands`), so the student learns to cope with
    exactly that (as band-dropout pretraining does in spectral foundation models).
    """

    def __init__(self, p: float = 0.5, drop_p: float = 0.3, fill: float = 0.0) -> None:
        super().__init__()
        if not 0 <= drop_p < 1:
            raise ValueError(f'drop_p must be in [0, 1); got {drop_p}.')
        self.p, self.drop_p, self.fill = p, drop_p, fill

    def forward(self, x: Tensor) -> Tensor:
        n, c = x.shape[:2]
        scores = torch.rand(n, c, device=x.device)
        drop = scores < self.drop_p
        keep = scores.argmax(dim=1)  # the band least likely to drop always stays
        drop[torch.arange(n, device=x.device), keep] = False
        drop = drop.view(n, c, 1, 1) & _chosen(x, self.p)
        return x.masked_fill(drop, self.fill)


class SpectralNoise(nn.Module):
    """Additive Gaussian noise per pixel and band of a chosen crop, with a σ per band.

    In ``reflectance`` units σ is a noise-equivalent reflectance; Sentinel-2's radiometric noise
    is of the order of 1e-3 (SNR > 100 at typical radiance), the default is a few times that.
    """

    def __init__(self, sigma: float | Sequence[float] = 0.003, p: float = 0.5) -> None:
        super().__init__()
        self.register_buffer(
            'sigma', torch.tensor(sigma, dtype=torch.float32).view(1, -1, 1, 1), persistent=False
        )
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if self.sigma.shape[1] not in (1, x.shape[1]):
            raise ValueError(
                f'SpectralNoise has {self.sigma.shape[1]} sigmas for {x.shape[1]} bands; give one '
                'per band of its ViewOps entry, or one for all.'
            )
        # Noise drawn for the chosen crops only; chosen on the CPU, since their number sets a
        # shape and reading it from a GPU tensor would stall the host.
        chosen = (torch.rand(x.shape[0]) < self.p).nonzero().flatten().to(x.device)
        noise = torch.randn(len(chosen), *x.shape[1:], device=x.device, dtype=x.dtype)
        return x.index_add(0, chosen, noise * self.sigma.to(x.dtype))
