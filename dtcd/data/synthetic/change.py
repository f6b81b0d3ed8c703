"""Bi-temporal scene pairs for change detection (OSCD): what changes and what does not."""

from __future__ import annotations

import numpy as np

from dtcd.bands import S2_L1C_13, band_indices
from dtcd.data.synthetic.grid import HR_FACTOR, _block_mean
from dtcd.data.synthetic.materials import _CROPS, _ID, _OPEN_LAND, _SPECTRA, _VEGETATION
from dtcd.data.synthetic.recipes import _landscape
from dtcd.data.synthetic.scene import _blobs, _Canvas, _rectangles
from dtcd.data.synthetic.sensor import (
    _Conditions,
    _object_spectra,
    _observe,
    _surface,
    _texture,
)


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
