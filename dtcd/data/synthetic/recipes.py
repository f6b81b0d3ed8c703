"""Scene recipes: one per EuroSAT class, plus a mixed landscape."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dtcd.data.synthetic.grid import _edges, _rotated, _smooth, _top
from dtcd.data.synthetic.scene import _blobs, _buildings, _Canvas, _fields, _line

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
