"""The high-resolution (HR) grid: noise fields, geometry and resampling to 10 m pixels."""

from __future__ import annotations

import functools

import numpy as np

#: HR pixels per Sentinel-2 pixel along each axis (2.5 m vs. 10 m).
HR_FACTOR = 4


def _smooth(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Standardised Gaussian-filtered white noise (FFT, periodic): terrain, textures, blobs.

    Broad 2-D fields are filtered on a coarser grid and upsampled bilinearly, which looks the same
    and keeps generation fast.
    """
    factor = 1
    while len(shape) == 2 and sigma / factor >= 4 and factor < 8 and shape[0] % (2 * factor) == 0:
        factor *= 2
    coarse = tuple(n // factor for n in shape)
    spectrum = np.fft.rfftn(rng.standard_normal(coarse))
    freqs = [np.fft.fftfreq(n) for n in coarse[:-1]] + [np.fft.rfftfreq(coarse[-1])]
    k2 = sum(
        f.reshape([-1 if i == j else 1 for j in range(len(coarse))]) ** 2
        for i, f in enumerate(freqs)
    )
    kernel = np.exp(-2 * (np.pi * sigma / factor) ** 2 * k2)
    out = np.fft.irfftn(spectrum * kernel, s=coarse, axes=tuple(range(len(coarse))))
    out = out.astype(np.float32)
    if factor > 1:
        out = _upsample(out, shape)
    return (out - out.mean()) / (out.std() + 1e-12)


@functools.cache
def _linear(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbours and weights of linear interpolation between pixel centres (n_in to n_out)."""
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.floor(pos).astype(int)
    return lo, np.minimum(lo + 1, n_in - 1), (pos - lo).astype(np.float32)


def _upsample(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Bilinear upsampling of a 2-D field."""
    lo, hi, w = _linear(shape[0], x.shape[0])
    x = x[lo] + (x[hi] - x[lo]) * w[:, None]
    lo, hi, w = _linear(shape[1], x.shape[1])
    return x[:, lo] + (x[:, hi] - x[:, lo]) * w


def _block_mean(x: np.ndarray) -> np.ndarray:
    """Mean over HR_FACTOR x HR_FACTOR blocks of the last two axes: HR to 10 m pixels."""
    f = HR_FACTOR
    rows = sum(x[..., i::f, :] for i in range(1, f)) + x[..., 0::f, :]
    return (sum(rows[..., j::f] for j in range(1, f)) + rows[..., 0::f]) / f**2


def _top(field_: np.ndarray, fraction: float, where: np.ndarray | None = None) -> np.ndarray:
    """Mask of the ``fraction`` highest values of a field (inside ``where``)."""
    values = field_ if where is None else field_[where]
    if values.size == 0 or fraction <= 0:
        return np.zeros(field_.shape, bool)
    mask = field_ > np.quantile(values, 1 - fraction)
    return mask if where is None else mask & where


def _coords(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return yy, xx


def _rotated(
    rng: np.random.Generator, size: int, angle: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates along and across a random direction through a random point near the centre."""
    angle = rng.uniform(0, np.pi) if angle is None else angle
    cy, cx = rng.uniform(0.3, 0.7, 2) * size
    yy, xx = _coords(size)
    u = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
    v = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
    return u, v


def _voronoi(rng: np.random.Generator, size: int, cell_px: float) -> tuple[np.ndarray, int]:
    """Irregular field parcels: nearest-seed cells on coordinates warped by smooth noise.

    Computed on a grid of 2x2 HR pixels: parcel borders need no finer detail.
    """
    k = max(2, round((size / cell_px) ** 2))
    seeds = rng.uniform(-0.1 * size, 1.1 * size, (k, 2)).astype(np.float32)
    half = size // 2
    yy, xx = _coords(half)
    warp = 0.04 * cell_px
    yy = yy + warp * _smooth(rng, (half, half), cell_px / 6)
    xx = xx + warp * _smooth(rng, (half, half), cell_px / 6)
    d = (yy[..., None] - seeds[:, 0] / 2) ** 2 + (xx[..., None] - seeds[:, 1] / 2) ** 2
    return d.argmin(-1).astype(np.int32).repeat(2, 0).repeat(2, 1), k


def _strip(rng: np.random.Generator, size: int, meander_px: float) -> np.ndarray:
    """Signed distance (HR px) from a meandering line crossing the tile: roads, rivers."""
    u, v = _rotated(rng, size)
    n = 4 * size
    wiggle = _smooth(rng, (n,), size / 4) * meander_px
    return v - np.interp(u, np.arange(n) - n / 2, wiggle).astype(np.float32)


def _edges(cells: np.ndarray) -> np.ndarray:
    """Two-pixel-wide boundaries between parcels: hedgerows."""
    edge = (cells != np.roll(cells, 1, 0)) | (cells != np.roll(cells, 1, 1))
    return edge | np.roll(edge, 1, 0) | np.roll(edge, 1, 1)


def _block_majority(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Most frequent label in each HR_FACTOR x HR_FACTOR block: the 10 m label."""
    counts = np.stack([_block_mean((labels == k).astype(np.float32)) for k in range(n_classes)])
    return counts.argmax(0).astype(np.uint8)
