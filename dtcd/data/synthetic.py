"""SynthEO: procedural Sentinel-2-like scenes written in real dataset layouts.

SynthEO makes every part of dtcd runnable offline. A scene is painted on a high-resolution (HR)
grid, four times finer than Sentinel-2's 10 m, as a map of *objects* (fields, houses, roads,
rivers), each made of one :data:`MATERIALS` entry with its own spectral variation. The 13-band
Sentinel-2 L1C image is the HR surface averaged to 10 m pixels (so pixels mix covers), seen
through a simple atmosphere (path radiance, band transmittance, a cirrus veil in B10), blurred
to each band's native 20 m / 60 m ground sampling and quantised to digital numbers
(reflectance × 10000, uint16). The paired HR RGB, like the fMoW-RGB images DEO pairs with
Sentinel-2, is the same scene at 2.5 m with its finer detail.

Multispectral information matters by design: each pair in :data:`RGB_TWINS` has identical
visible reflectance but differs in the red edge, NIR or SWIR (lush pasture vs. natural meadow,
annual crop vs. orchard canopy, concrete vs. metal roofs), so EuroSAT's Pasture /
HerbaceousVegetation, AnnualCrop / PermanentCrop and Residential / Industrial are hard to tell
apart from RGB alone.

Every output is deterministic for a seed: each scene draws from its own
``numpy.random.default_rng([seed, dataset, index])`` and the writers store no timestamps.

On-disk layout under the output directory (the first two are the real layouts TorchGeo reads)::

    eurosat/                                       torchgeo.datasets.EuroSAT(root=...)
        eurosat-{train,val,test}.txt               file names, one per line (AnnualCrop_1.jpg)
        ds/images/remote_sensing/otherDatasets/sentinel_2/tif/<Class>/<Class>_<i>.tif
                                                   64x64 uint16, 13 bands in EuroSAT order
                                                   (B01..B12, B8A last)
    oscd/                                          torchgeo.datasets.OSCD(root=..., split=...)
        Onera Satellite Change Detection dataset - Images/
            {train,test}.txt                       comma-separated region names
            <region>/dates.txt                     'date_1: YYYYMMDD' and 'date_2: YYYYMMDD'
            <region>/imgs_{1,2}_rect/<band>.tif    one uint16 GeoTIFF per band, B01.tif..B12.tif
        Onera Satellite Change Detection dataset - {Train,Test} Labels/
            <region>/cm/cm.png                     8-bit, 255 = change, 0 = no change
    segmentation/                                  dtcd.data.SynthEOSegmentation
        {train,val,test}/images/<id>.tif           uint16, 13 bands in L1C order (B8A after B08),
                                                   band names stored as band descriptions
        {train,val,test}/masks/<id>.tif            uint8 land-cover ids (LAND_COVER_CLASSES)
    pretrain/                                      dtcd.data.PairedMSRGB
        index.csv                                  columns id, ms, rgb (paths relative to pretrain/)
        ms/<id>.tif                                uint16, 13 bands in L1C order, described
        rgb/<id>.png                               uint8 RGB at 4x the MS resolution

The HR RGB stores top-of-atmosphere reflectance linearly: ``uint8 = DN / HR_RGB_FULL_SCALE_DN *
255``, so that averaging it back to 10 m gives Sentinel-2's B04, B03, B02 digital numbers.
GeoTIFFs carry an EPSG:32632 (UTM 32N) transform with 10 m pixels.
"""

from __future__ import annotations

import csv
import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image

from dtcd.bands import EUROSAT13, RGB, S2_BANDS, S2_L1C_13, band_indices
from dtcd.data.specs import (
    EUROSAT_BASE_DIR,
    EUROSAT_CLASSES,
    HR_RGB_FULL_SCALE_DN,
    LAND_COVER_CLASSES,
    OSCD_IMAGES,
    oscd_labels,
)

__all__ = [
    'HR_FACTOR',
    'MATERIALS',
    'PRESETS',
    'RGB_TWINS',
    'DatasetSummary',
    'Material',
    'Preset',
    'SynthEOSummary',
    'generate',
]

#: HR pixels per Sentinel-2 pixel along each axis (2.5 m vs. 10 m).
HR_FACTOR = 4
#: Coordinate reference system written into every GeoTIFF.
CRS = 'EPSG:32632'
PIXEL_M = 10.0

# Bands whose reflectance a material states; B09 (water vapour) sees B8A's surface and B10
# (cirrus) B11's, both through an absorbing atmosphere (see _ATM_GAIN).
_SURFACE_BANDS = ('B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B11', 'B12')


@dataclass(frozen=True)
class Material:
    """A surface material.

    Attributes:
        name: Short name.
        reflectance: Surface reflectance in percent at B01, B02, B03, B04, B05, B06, B07, B08, B8A,
            B11 and B12.
        texture: Relative amplitude of its within-object brightness texture (canopy, roof tiles).
        cover: Index into :data:`LAND_COVER_CLASSES`.
    """

    name: str
    reflectance: tuple[float, ...]
    texture: float
    cover: int


# fmt: off
MATERIALS: dict[str, Material] = {m.name: m for m in (
    #                        B01  B02  B03  B04  B05  B06  B07  B08  B8A  B11  B12
    Material('sea',         (  6,   5,   4,   2, 1.5,   1, 0.8, 0.6, 0.5, 0.3, 0.2), .02, 0),
    Material('river_water', (  7,   7, 8.5, 6.5,   5,   3, 2.5,   2, 1.8, 0.8, 0.5), .04, 0),
    Material('forest',      (  2, 2.5, 4.5, 2.5,   7,  19,  24,  26,  27,  13,   6), .18, 1),
    Material('shrub',       (2.5,   3, 5.5, 4.5,   9,  20,  25,  27,  28,  20,  11), .12, 2),
    Material('meadow',      (  3,   4, 7.5,   6,  12,  24,  29,  30,  31,  27,  16), .08, 2),
    Material('pasture',     (  3,   4, 7.5,   6,  10,  30,  40,  43,  44,  20,  10), .05, 2),
    Material('crop_green',  (  3, 3.5,   7,   4,  11,  33,  43,  46,  47,  22,  11), .05, 3),
    Material('orchard',     (  3, 3.5,   7,   4,   9,  20,  23,  25,  26,  25,  14), .10, 3),
    Material('crop_ripe',   (  6,   8,  12,  15,  19,  22,  24,  26,  27,  35,  26), .05, 3),
    Material('soil',        (  7,   8,  11,  14,  17,  19,  21,  23,  24,  32,  27), .06, 4),
    Material('soil_moist',  (  4,   5,   7,   9,  11,  12,  13,  14,  15,  22,  19), .06, 4),
    Material('sand',        ( 12,  14,  18,  22,  25,  27,  28,  29,  30,  38,  33), .04, 4),
    Material('asphalt',     (  6,   7,   8,   9,  10,  10,  11,  11,  12,  14,  13), .03, 6),
    Material('concrete',    ( 14,  15,  17,  18,  19,  20,  21,  22,  23,  28,  25), .05, 5),
    Material('metal_roof',  ( 14,  15,  17,  18,  18,  17,  17,  16,  16,   9,   7), .03, 5),
    Material('tile_roof',   (  7,   8,  10,  20,  24,  26,  27,  28,  29,  36,  30), .06, 5),
)}
# fmt: on

#: Material pairs with identical visible (B02, B03, B04) reflectance that differ beyond it.
RGB_TWINS: tuple[tuple[str, str], ...] = (
    ('meadow', 'pasture'),
    ('crop_green', 'orchard'),
    ('concrete', 'metal_roof'),
)

_NAMES = tuple(MATERIALS)
_ID = {name: i for i, name in enumerate(_NAMES)}
_SPECTRA = np.array(
    [
        [
            m.reflectance[_SURFACE_BANDS.index({'B09': 'B8A', 'B10': 'B11'}.get(b, b))]
            for b in S2_L1C_13
        ]
        for m in MATERIALS.values()
    ],
    dtype=np.float32,
) / np.float32(100)
_TEXTURE = np.array([m.texture for m in MATERIALS.values()], dtype=np.float32)
_COVER = np.array([m.cover for m in MATERIALS.values()], dtype=np.uint8)


def _ids(*names: str) -> np.ndarray:
    return np.array([_ID[n] for n in names])


_VEGETATION = np.isin(
    np.arange(len(_NAMES)), _ids('forest', 'shrub', 'meadow', 'pasture', 'crop_green', 'orchard')
)
_CROPS = _ids('crop_green', 'crop_ripe', 'soil', 'soil_moist')
_OPEN_LAND = _ids(
    'meadow',
    'pasture',
    'shrub',
    'crop_green',
    'crop_ripe',
    'orchard',
    'soil',
    'soil_moist',
    'forest',
)

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


# --- geometry on the HR grid -------------------------------------------------------------------


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


class _Canvas:
    """HR object map: each painted region becomes objects of one material each."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.objects = np.zeros((size, size), np.int32)
        self.materials: list[int] = [_ID['meadow']]

    def copy(self) -> _Canvas:
        other = _Canvas(self.size)
        other.objects = self.objects.copy()
        other.materials = list(self.materials)
        return other

    def paint(self, mask: np.ndarray, material: str) -> None:
        """One new object of ``material`` where ``mask`` holds."""
        self.objects[mask] = len(self.materials)
        self.materials.append(_ID[material])

    def paint_cells(self, cells: np.ndarray, materials: np.ndarray, mask: np.ndarray) -> None:
        """One new object per cell id (``materials[id]``) where ``mask`` holds."""
        self.objects = np.where(mask, cells + len(self.materials), self.objects)
        self.materials.extend(int(m) for m in materials)

    def material_map(self) -> np.ndarray:
        return np.asarray(self.materials, np.int32)[self.objects]


def _choose(rng: np.random.Generator, mix: Mapping[str, float], n: int) -> np.ndarray:
    names = list(mix)
    p = np.array([mix[k] for k in names], float)
    return np.array([_ID[names[i]] for i in rng.choice(len(names), n, p=p / p.sum())])


# --- painting primitives -----------------------------------------------------------------------


def _fields(
    c: _Canvas,
    rng: np.random.Generator,
    mix: Mapping[str, float],
    cell_px: float,
    where: np.ndarray | None = None,
) -> np.ndarray:
    """Parcels of materials drawn from ``mix``; orchards get tree rows over a green cover crop."""
    cells, k = _voronoi(rng, c.size, cell_px)
    materials = _choose(rng, mix, k)
    where = np.ones((c.size, c.size), bool) if where is None else where
    c.paint_cells(cells, materials, where)
    orchard = where & (materials[cells] == _ID['orchard'])
    if orchard.any():
        u, _ = _rotated(rng, c.size)
        period = rng.uniform(3.0, 4.5)
        c.paint(orchard & ((u / period) % 1.0 > 0.65), 'crop_green')
    return cells


def _blobs(
    c: _Canvas,
    rng: np.random.Generator,
    material: str,
    fraction: float,
    sigma: float,
    where: np.ndarray | None = None,
) -> None:
    """Smooth irregular patches (woods, clearings, lakes) covering ``fraction`` of ``where``."""
    c.paint(_top(_smooth(rng, (c.size, c.size), sigma), fraction, where), material)


def _line(
    c: _Canvas,
    rng: np.random.Generator,
    material: str,
    width: float,
    meander: float,
    bank: tuple[str, float] | None = None,
) -> None:
    """A road or river across the tile, optionally lined by a verge or riparian strip."""
    d = np.abs(_strip(rng, c.size, meander))
    if bank is not None:
        c.paint(d < width / 2 + bank[1], bank[0])
    c.paint(d < width / 2, material)


def _buildings(
    c: _Canvas,
    rng: np.random.Generator,
    roofs: Mapping[str, float],
    block: float,
    fill: tuple[float, float],
    street: float,
    where: np.ndarray | None = None,
) -> None:
    """A rotated street grid with one building per block, sized and roofed at random."""
    u, v = _rotated(rng, c.size, rng.uniform(0, np.pi / 2))
    iu, iv = np.floor(u / block).astype(np.int32), np.floor(v / block).astype(np.int32)
    iu -= iu.min()
    iv -= iv.min()
    cells = iu * (iv.max() + 1) + iv
    k = int(cells.max()) + 1
    fu, fv = u / block - np.floor(u / block), v / block - np.floor(v / block)
    margin = street / block
    streets = (fu < margin) | (fv < margin)
    side_u, side_v = (rng.uniform(*fill, (2, k)) * (1 - 2 * margin)).astype(np.float32)
    present = rng.random(k) < 0.85
    house = (
        present[cells]
        & (np.abs(fu - 0.5 - margin / 2) < side_u[cells] / 2)
        & (np.abs(fv - 0.5 - margin / 2) < side_v[cells] / 2)
    )
    where = np.ones((c.size, c.size), bool) if where is None else where
    c.paint(streets & where, 'asphalt')
    c.paint_cells(cells, _choose(rng, roofs, k), house & ~streets & where)


def _rectangles(
    c: _Canvas,
    rng: np.random.Generator,
    roofs: Mapping[str, float],
    n: int,
    side: tuple[float, float],
    where: np.ndarray,
) -> None:
    """Free-standing rectangular buildings, clipped to ``where``: new construction."""
    for material in _choose(rng, roofs, n):
        h, w = rng.uniform(*side, 2).astype(int)
        y, x = rng.integers(0, c.size - min(h, w), 2)
        mask = np.zeros((c.size, c.size), bool)
        mask[y : y + h, x : x + w] = True
        c.paint(mask & where, _NAMES[material])


# --- scene recipes: one per EuroSAT class, plus a mixed landscape ------------------------------

_FARMLAND = {
    'crop_green': 0.25,
    'meadow': 0.2,
    'pasture': 0.2,
    'soil': 0.15,
    'forest': 0.1,
    'crop_ripe': 0.1,
}


def _cropland(c: _Canvas, rng: np.random.Generator, green: str) -> None:
    """Arable parcels whose green cover is ``green``: annual crops or orchards, twins in RGB."""
    mix = {green: 0.45, 'crop_ripe': 0.15, 'soil': 0.2, 'soil_moist': 0.2}
    _fields(c, rng, mix, rng.uniform(35, 70))
    if rng.random() < 0.3:
        _blobs(c, rng, 'forest', rng.uniform(0.03, 0.1), 12)
    if rng.random() < 0.3:
        _line(c, rng, 'asphalt', rng.uniform(2, 4), 4)


def _annual_crop(c: _Canvas, rng: np.random.Generator) -> None:
    _cropland(c, rng, 'crop_green')


def _forest(c: _Canvas, rng: np.random.Generator) -> None:
    _fields(c, rng, {'forest': 1.0}, rng.uniform(50, 90))
    _blobs(c, rng, 'shrub', rng.uniform(0.02, 0.08), 10)
    _blobs(c, rng, 'meadow', rng.uniform(0.0, 0.1), 14)
    if rng.random() < 0.25:
        _line(c, rng, 'soil', rng.uniform(2, 3), 12)


def _herbaceous(c: _Canvas, rng: np.random.Generator) -> None:
    _fields(c, rng, {'meadow': 0.8, 'shrub': 0.2}, rng.uniform(50, 100))
    _blobs(c, rng, 'shrub', rng.uniform(0.05, 0.15), 6)
    _blobs(c, rng, 'soil', rng.uniform(0.02, 0.06), 5)
    _blobs(c, rng, 'forest', rng.uniform(0.0, 0.05), 8)


def _pasture(c: _Canvas, rng: np.random.Generator) -> None:
    cells = _fields(c, rng, {'pasture': 0.85, 'meadow': 0.15}, rng.uniform(45, 80))
    if rng.random() < 0.6:
        c.paint(_edges(cells) & (_smooth(rng, (c.size, c.size), 6) > -0.3), 'shrub')
    _blobs(c, rng, 'forest', rng.uniform(0.01, 0.06), 6)


def _permanent_crop(c: _Canvas, rng: np.random.Generator) -> None:
    _cropland(c, rng, 'orchard')


def _highway(c: _Canvas, rng: np.random.Generator) -> None:
    _fields(c, rng, _FARMLAND, rng.uniform(40, 80))
    _line(c, rng, 'asphalt', rng.uniform(8, 14), rng.uniform(0, 6), ('meadow', rng.uniform(2, 5)))
    if rng.random() < 0.4:
        _line(c, rng, 'asphalt', rng.uniform(3, 5), 6)


def _industrial(c: _Canvas, rng: np.random.Generator) -> None:
    _fields(c, rng, {'asphalt': 0.4, 'soil': 0.3, 'meadow': 0.3}, rng.uniform(60, 100))
    roofs = {'metal_roof': 0.75, 'concrete': 0.25}
    _buildings(c, rng, roofs, rng.uniform(40, 70), (0.5, 0.95), rng.uniform(4, 7))


def _residential(c: _Canvas, rng: np.random.Generator) -> None:
    _fields(
        c, rng, {'pasture': 0.4, 'meadow': 0.3, 'shrub': 0.2, 'forest': 0.1}, rng.uniform(40, 80)
    )
    _blobs(c, rng, 'forest', rng.uniform(0.03, 0.1), 3)
    roofs = {'concrete': 0.5, 'tile_roof': 0.5}
    _buildings(c, rng, roofs, rng.uniform(14, 22), (0.45, 0.8), rng.uniform(2.5, 4))


def _river(c: _Canvas, rng: np.random.Generator) -> None:
    _fields(c, rng, _FARMLAND, rng.uniform(40, 80))
    bank = (('shrub', 'forest', 'meadow')[rng.integers(3)], rng.uniform(2, 8))
    _line(c, rng, 'river_water', rng.uniform(16, 44), rng.uniform(8, 30), bank)


def _sea_lake(c: _Canvas, rng: np.random.Generator) -> None:
    _fields(c, rng, _FARMLAND, rng.uniform(40, 80))
    u, _ = _rotated(rng, c.size)
    level = _smooth(rng, (c.size, c.size), c.size / 6) + u / c.size * rng.uniform(0.5, 3)
    water = _top(level, rng.uniform(0.7, 0.98))
    c.paint(_top(level, min(1.0, water.mean() + rng.uniform(0.0, 0.05))), 'sand')
    c.paint(water, 'sea')


def _landscape(c: _Canvas, rng: np.random.Generator) -> None:
    mix = {
        'forest': 0.15,
        'meadow': 0.15,
        'pasture': 0.15,
        'crop_green': 0.2,
        'crop_ripe': 0.1,
        'orchard': 0.1,
        'soil': 0.1,
        'soil_moist': 0.05,
    }
    _fields(c, rng, mix, rng.uniform(40, 90))
    if rng.random() < 0.3:
        _blobs(c, rng, 'sea', rng.uniform(0.05, 0.25), c.size / 8)
    if rng.random() < 0.35:
        _line(c, rng, 'river_water', rng.uniform(6, 20), rng.uniform(8, 30), ('shrub', 3))
    if rng.random() < 0.6:
        town = _top(_smooth(rng, (c.size, c.size), c.size / 6), rng.uniform(0.15, 0.5))
        roofs = {'concrete': 0.4, 'tile_roof': 0.35, 'metal_roof': 0.25}
        _buildings(c, rng, roofs, rng.uniform(14, 40), (0.4, 0.85), rng.uniform(2.5, 5), town)
    if rng.random() < 0.5:
        _line(c, rng, 'asphalt', rng.uniform(3, 8), rng.uniform(0, 10))


_EUROSAT_RECIPES: dict[str, Callable[[_Canvas, np.random.Generator], None]] = {
    'AnnualCrop': _annual_crop,
    'Forest': _forest,
    'HerbaceousVegetation': _herbaceous,
    'Highway': _highway,
    'Industrial': _industrial,
    'Pasture': _pasture,
    'PermanentCrop': _permanent_crop,
    'Residential': _residential,
    'River': _river,
    'SeaLake': _sea_lake,
}


# --- radiometry --------------------------------------------------------------------------------


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


def _block_majority(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Most frequent label in each HR_FACTOR x HR_FACTOR block: the 10 m label."""
    counts = np.stack([_block_mean((labels == k).astype(np.float32)) for k in range(n_classes)])
    return counts.argmax(0).astype(np.uint8)


# --- writers -----------------------------------------------------------------------------------


def _rng(seed: int, *keys: int) -> np.random.Generator:
    """The scene's own generator: scenes never share random streams, so presets nest."""
    return np.random.default_rng([seed, *keys])


def _origin(rng: np.random.Generator) -> tuple[float, float]:
    """Upper-left corner of a tile somewhere in UTM zone 32N (northern Italy to Denmark)."""
    return 300000.0 + 640.0 * rng.integers(0, 600), 5000000.0 + 640.0 * rng.integers(0, 1000)


def _write_tif(
    path: Path,
    array: np.ndarray,
    origin: tuple[float, float],
    descriptions: tuple[str, ...] | None = None,
    compress: bool = True,
) -> None:
    """A georeferenced GeoTIFF [C, H, W]; GDAL writes no timestamp, so bytes are reproducible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        'driver': 'GTiff',
        'width': array.shape[2],
        'height': array.shape[1],
        'count': array.shape[0],
        'dtype': array.dtype.name,
        'crs': CRS,
        'transform': rasterio.Affine(PIXEL_M, 0.0, origin[0], 0.0, -PIXEL_M, origin[1]),
    }
    if compress:
        profile |= {'compress': 'deflate', 'predictor': 2}
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(array)
        for i, name in enumerate(descriptions or (), start=1):
            dst.set_band_description(i, name)


def _write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, compress_level=1)


def _split_sizes(n: int, fractions: tuple[float, float, float]) -> dict[str, int]:
    """Train/val/test counts of ``n`` items, each split non-empty."""
    val = max(1, round(n * fractions[1]))
    test = max(1, round(n * fractions[2]))
    return {'train': n - val - test, 'val': val, 'test': test}


# --- datasets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSummary:
    """What was written for one dataset."""

    name: str
    splits: dict[str, int]
    size: str
    classes: tuple[str, ...] = ()

    def format(self) -> str:
        counts = ', '.join(f'{k} {v}' for k, v in self.splits.items())
        line = f'  {self.name:<13} {counts}; {self.size}'
        return line + (
            f'; {len(self.classes)} classes: {", ".join(self.classes)}' if self.classes else ''
        )


@dataclass(frozen=True)
class SynthEOSummary:
    """The result of :func:`generate`: where, what, and how long it took."""

    root: Path
    preset: str
    seed: int
    seconds: float
    datasets: tuple[DatasetSummary, ...] = field(default_factory=tuple)

    def format(self) -> str:
        head = (
            f'SynthEO preset {self.preset!r}, seed {self.seed}: {self.root} ({self.seconds:.1f} s)'
        )
        return '\n'.join([head, *(d.format() for d in self.datasets)])


def _eurosat(out: Path, seed: int, per_class: int) -> DatasetSummary:
    """EuroSAT: one scene per file, dominated by its class, split 60/20/20 per class."""
    order = band_indices(S2_L1C_13, EUROSAT13)
    sizes = _split_sizes(per_class, (0.6, 0.2, 0.2))
    split_of = ['train'] * sizes['train'] + ['val'] * sizes['val'] + ['test'] * sizes['test']
    lists: dict[str, list[str]] = {s: [] for s in sizes}
    for label, name in enumerate(EUROSAT_CLASSES):
        splits = _rng(seed, 4, label).permutation(split_of)
        for i in range(per_class):
            rng = _rng(seed, 0, label, i)
            _, ms, _ = _scene(rng, _EUROSAT_RECIPES[name], 64)
            stem = f'{name}_{i + 1}'
            _write_tif(out / EUROSAT_BASE_DIR / name / f'{stem}.tif', ms[order], _origin(rng))
            lists[str(splits[i])].append(f'{stem}.jpg')
    for split, names in lists.items():
        (out / f'eurosat-{split}.txt').write_text(''.join(f'{n}\n' for n in names))
    counts = {s: len(v) for s, v in lists.items()}
    return DatasetSummary('eurosat', counts, '64x64 px, 13 bands (B8A last)', EUROSAT_CLASSES)


def _segmentation(out: Path, seed: int, n: int, size: int) -> DatasetSummary:
    """Per-pixel land cover on mixed landscapes."""
    sizes = _split_sizes(n, (0.6, 0.2, 0.2))
    index = 0
    for split, count in sizes.items():
        for _ in range(count):
            rng = _rng(seed, 1, index)
            canvas, ms, _ = _scene(rng, _landscape, size)
            mask = _block_majority(_COVER[canvas.material_map()], len(LAND_COVER_CLASSES))
            origin = _origin(rng)
            _write_tif(out / split / 'images' / f'{index:05d}.tif', ms, origin, S2_L1C_13)
            _write_tif(out / split / 'masks' / f'{index:05d}.tif', mask[None], origin, ('class',))
            index += 1
    return DatasetSummary('segmentation', sizes, f'{size}x{size} px, 13 bands', LAND_COVER_CLASSES)


def _pretrain(out: Path, seed: int, n: int, size: int) -> DatasetSummary:
    """Unlabelled MS tiles of every scene type, each with its HR RGB."""
    recipes = [*_EUROSAT_RECIPES.values(), _landscape, _landscape]
    rows = []
    for i in range(n):
        rng = _rng(seed, 2, i)
        _, ms, rgb = _scene(rng, recipes[rng.integers(len(recipes))], size)
        tile = f'{i:06d}'
        _write_tif(out / 'ms' / f'{tile}.tif', ms, _origin(rng), S2_L1C_13)
        _write_png(out / 'rgb' / f'{tile}.png', rgb)
        rows.append((tile, f'ms/{tile}.tif', f'rgb/{tile}.png'))
    with open(out / 'index.csv', 'w', newline='') as f:
        writer = csv.writer(f, lineterminator='\n')
        writer.writerow(('id', 'ms', 'rgb'))
        writer.writerows(rows)
    hr = size * HR_FACTOR
    return DatasetSummary('pretrain', {'tiles': n}, f'{size}x{size} px MS + {hr}x{hr} px RGB')


def _oscd_pair(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two dates of one region and their change mask.

    Change: new buildings, flooding, cleared forest. Not change: different illumination, haze and
    cirrus, vegetation phenology and crop rotation within fields.
    """
    before = _Canvas(size * HR_FACTOR)
    _landscape(before, rng)
    after = before.copy()
    land = np.isin(before.material_map(), _OPEN_LAND)
    roofs = {'concrete': 0.4, 'tile_roof': 0.3, 'metal_roof': 0.3}
    _rectangles(after, rng, roofs, int(rng.integers(4, 10) * (size / 96) ** 2), (8, 36), land)
    if rng.random() < 0.5:
        _blobs(after, rng, 'river_water', rng.uniform(0.02, 0.06), size / 4, land)
    forest = after.material_map() == _ID['forest']
    if rng.random() < 0.6 and forest.mean() > 0.02:
        _blobs(after, rng, 'soil', 0.3 * forest.mean(), 12, forest)
    changed = before.material_map() != after.material_map()
    mask = _block_mean(changed.astype(np.float32)) >= 0.5

    spectra1 = _object_spectra(rng, before.materials)
    spectra2 = _object_spectra(rng, after.materials)
    spectra2[: len(before.materials)] = spectra1
    old = np.asarray(before.materials)
    rotate = np.isin(old, _CROPS) & (rng.random(len(old)) < 0.3)
    spectra2[: len(old)][rotate] = _SPECTRA[rng.choice(_CROPS, rotate.sum())]
    phenology = np.ones(len(S2_L1C_13), np.float32)
    phenology[band_indices(S2_L1C_13, ('B05', 'B06', 'B07', 'B08', 'B8A', 'B09'))] = rng.uniform(
        0.75, 1.1
    )
    phenology[band_indices(S2_L1C_13, ('B11', 'B12'))] = rng.uniform(0.9, 1.2)
    veg = _VEGETATION[np.asarray(after.materials)]
    spectra2[veg] *= phenology
    texture = _texture(rng, before.size)
    ms1, _ = _observe(rng, _surface(before, spectra1, texture), _Conditions.draw(rng))
    ms2, _ = _observe(rng, _surface(after, spectra2, texture), _Conditions.draw(rng))
    return ms1, ms2, mask


def _oscd(out: Path, seed: int, regions: dict[str, int], size: int) -> DatasetSummary:
    """OSCD: bi-temporal regions, one GeoTIFF per band and date, PNG change maps."""
    images = out / OSCD_IMAGES
    index = 0
    for split, count in regions.items():
        names = []
        for _ in range(count):
            rng = _rng(seed, 3, index)
            region = f'synth{index:02d}'
            ms1, ms2, mask = _oscd_pair(rng, size)
            origin = _origin(rng)
            for date, ms in ((1, ms1), (2, ms2)):
                for band, plane in zip(S2_L1C_13, ms, strict=True):
                    path = images / region / f'imgs_{date}_rect' / f'{band}.tif'
                    _write_tif(path, plane[None], origin, compress=False)
            year = 2016 + int(rng.integers(0, 2))
            (images / region / 'dates.txt').write_text(
                f'date_1: {year}{rng.integers(1, 6):02d}15\n'
                f'date_2: {year + 1}{rng.integers(6, 13):02d}15\n'
            )
            labels = out / oscd_labels(split)
            _write_png(labels / region / 'cm' / 'cm.png', mask.astype(np.uint8) * 255)
            names.append(region)
            index += 1
        images.mkdir(parents=True, exist_ok=True)
        (images / f'{split}.txt').write_text(','.join(names) + '\n')
    return DatasetSummary(
        'oscd', dict(regions), f'{size}x{size} px, 2 dates x 13 bands', ('no change', 'change')
    )


@dataclass(frozen=True)
class Preset:
    """Sizes of one SynthEO generation.

    Attributes:
        eurosat_per_class: EuroSAT images per class (split 60/20/20).
        oscd_regions: OSCD regions per split.
        oscd_size: OSCD region side in 10 m pixels.
        segmentation_tiles: Segmentation tiles in all (split 60/20/20).
        segmentation_size: Segmentation tile side in pixels.
        pretrain_tiles: Paired MS + HR RGB tiles.
        pretrain_size: Pretraining tile side in 10 m pixels.
    """

    eurosat_per_class: int
    oscd_regions: dict[str, int]
    oscd_size: int
    segmentation_tiles: int
    segmentation_size: int
    pretrain_tiles: int
    pretrain_size: int

    def __post_init__(self) -> None:
        if min(self.eurosat_per_class, self.segmentation_tiles) < 3:
            raise ValueError('EuroSAT classes and segmentation need >= 3 items: one per split.')


PRESETS: dict[str, Preset] = {
    'tiny': Preset(
        eurosat_per_class=20,
        oscd_regions={'train': 2, 'test': 1},
        oscd_size=96,
        segmentation_tiles=24,
        segmentation_size=64,
        pretrain_tiles=32,
        pretrain_size=64,
    ),
    'demo': Preset(
        eurosat_per_class=100,
        oscd_regions={'train': 6, 'test': 2},
        oscd_size=192,
        segmentation_tiles=200,
        segmentation_size=64,
        pretrain_tiles=600,
        pretrain_size=96,
    ),
}


def generate(out_dir: Path | str, preset: str | Preset = 'tiny', seed: int = 0) -> SynthEOSummary:
    """Write SynthEO's four datasets under ``out_dir`` (see the module docstring for the layout).

    Args:
        out_dir: Output directory; created if missing, existing files are overwritten.
        preset: A key of :data:`PRESETS`, or a :class:`Preset` of one's own.
        seed: A non-negative integer. Same seed, same bytes; another seed, other scenes.
    """
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f'Unknown SynthEO preset {preset!r}; choose one of {sorted(PRESETS)}.')
        name, p = preset, PRESETS[preset]
    else:
        name, p = 'custom', preset
    root = Path(out_dir)
    start = time.perf_counter()
    datasets = (
        _eurosat(root / 'eurosat', seed, p.eurosat_per_class),
        _oscd(root / 'oscd', seed, p.oscd_regions, p.oscd_size),
        _segmentation(root / 'segmentation', seed, p.segmentation_tiles, p.segmentation_size),
        _pretrain(root / 'pretrain', seed, p.pretrain_tiles, p.pretrain_size),
    )
    return SynthEOSummary(root, name, seed, time.perf_counter() - start, datasets)
