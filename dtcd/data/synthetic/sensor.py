"""The sensor: a canvas's surface seen as Sentinel-2 L1C digital numbers and an HR RGB image.

Objects get their own spectra, the HR surface is averaged to 10 m pixels, passed through a
minimal atmosphere, blurred to each band's native ground sampling and quantised; the HR RGB is
the same surface at 2.5 m (see :mod:`dtcd.data.synthetic.writers` for its encoding).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dtcd.bands import RGB, S2_BANDS, S2_L1C_13, band_indices
from dtcd.data.specs import HR_RGB_FULL_SCALE_DN
from dtcd.data.synthetic.grid import HR_FACTOR, _block_mean, _smooth
from dtcd.data.synthetic.materials import _SPECTRA, _TEXTURE
from dtcd.data.synthetic.scene import _Canvas

# A minimal L1C atmosphere in reflectance units: TOA = path * haze + gain * illumination * surface.
# B01/B02 carry most path radiance; B09 sits in a water-vapour band and B10 is opaque (cirrus).
_ATM_PATH = np.array(
    [0.110, 0.080, 0.055, 0.040, 0.032, 0.025, 0.020, 0.017, 0.015, 0.005, 0.0012, 0.003, 0.001],
    np.float32,
)
_ATM_GAIN = np.array(
    [0.85, 0.88, 0.90, 0.92, 0.93, 0.94, 0.95, 0.95, 0.95, 0.30, 0.0, 0.97, 0.97], np.float32
)
_RGB_INDEX = band_indices(S2_L1C_13, RGB)
# Gaussian blur (in 10 m pixels) that brings each band to its native ground sampling.
_GSD_SIGMA = {10: 0.0, 20: 0.6, 60: 2.0}


def _object_spectra(rng: np.random.Generator, materials: list[int]) -> np.ndarray:
    """Per-object surface spectra: material spectrum, object brightness and per-band jitter."""
    n = len(materials)
    gain = np.clip(1 + 0.08 * rng.standard_normal((n, 1)), 0.7, 1.3)
    jitter = 1 + 0.03 * rng.standard_normal((n, len(S2_L1C_13)))
    return (_SPECTRA[materials] * gain * jitter).astype(np.float32)


def _surface(c: _Canvas, spectra: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """HR surface reflectance [13, S, S] of a canvas given its object spectra."""
    brightness = 1 + _TEXTURE[np.asarray(c.materials)][c.objects] * texture
    surface = np.take(np.ascontiguousarray(spectra.T), c.objects, axis=1)
    surface *= brightness
    return surface


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """Fine brightness texture: crowns, furrows, roof tiles (mostly visible in the HR image)."""
    fine = 0.7 * _smooth(rng, (size, size), 1.2) + 0.3 * rng.standard_normal((size, size))
    return fine.astype(np.float32)


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of [C, H, W] with reflected borders."""
    pad = int(np.ceil(3 * sigma))
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad)), mode='reflect')
    h, w = padded.shape[1:]
    k2 = np.fft.fftfreq(h)[:, None] ** 2 + np.fft.rfftfreq(w)[None, :] ** 2
    out = np.fft.irfft2(np.fft.rfft2(padded) * np.exp(-2 * (np.pi * sigma) ** 2 * k2), s=(h, w))
    return out[:, pad:-pad, pad:-pad].astype(np.float32)


@dataclass(frozen=True)
class _Conditions:
    """Acquisition conditions of one image: sun illumination, haze and cirrus."""

    illumination: float
    haze: float
    cirrus: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> _Conditions:
        return cls(rng.uniform(0.8, 1.2), rng.uniform(0.7, 1.5), rng.uniform(0.0, 0.004))


def _observe(
    rng: np.random.Generator, surface: np.ndarray, cond: _Conditions
) -> tuple[np.ndarray, np.ndarray]:
    """Sentinel-2 L1C digital numbers [13, N, N] uint16 and HR RGB [S, S, 3] uint8 of a surface."""
    n = surface.shape[-1] // HR_FACTOR
    path, gain = _ATM_PATH[:, None, None] * cond.haze, _ATM_GAIN[:, None, None] * cond.illumination
    lr = _block_mean(surface)
    toa = path + gain * lr
    toa[S2_L1C_13.index('B10')] += cond.cirrus * np.clip(_smooth(rng, (n, n), n / 4) + 1, 0, None)
    for gsd, sigma in _GSD_SIGMA.items():
        idx = [i for i, b in enumerate(S2_L1C_13) if S2_BANDS[b].gsd_m == gsd]
        if sigma:
            toa[idx] = _blur(toa[idx], sigma)
    toa += (0.004 * toa + 0.0004) * rng.standard_normal(toa.shape).astype(np.float32)
    ms = np.clip(np.rint(toa * 10000), 1, 65535).astype(np.uint16)
    rgb = path[_RGB_INDEX] + gain[_RGB_INDEX] * surface[_RGB_INDEX]
    rgb8 = np.clip(np.rint(rgb * 10000 / HR_RGB_FULL_SCALE_DN * 255), 0, 255).astype(np.uint8)
    return ms, np.ascontiguousarray(rgb8.transpose(1, 2, 0))


def _scene(
    rng: np.random.Generator, recipe: Callable[[_Canvas, np.random.Generator], None], size: int
) -> tuple[_Canvas, np.ndarray, np.ndarray]:
    """Paint and observe one scene of ``size`` 10 m pixels: canvas, MS DN and HR RGB."""
    canvas = _Canvas(size * HR_FACTOR)
    recipe(canvas, rng)
    surface = _surface(canvas, _object_spectra(rng, canvas.materials), _texture(rng, canvas.size))
    ms, rgb = _observe(rng, surface, _Conditions.draw(rng))
    return canvas, ms, rgb
