"""Scene recipes: one per EuroSAT class, plus a mixed landscape.

Three pairs of classes are *spatial twins* (SynthEO v2, issue 15): their scenes draw materials
and material shares from one distribution, so the mean spectrum cannot tell them apart, and only
the arrangement does:

- Pasture / HerbaceousVegetation: one grass mix, as hedged parcels or as irregular patches;
- Residential / Industrial: one ground and roof mix and the same built-up share, as many small
  houses or a few large halls;
- River / SeaLake: the same water and bank materials over the same share of the tile, as a strip
  crossing it or as a shore.

AnnualCrop / PermanentCrop stay RGB twins (their green covers differ only beyond the visible
bands), so multispectral input still beats RGB.
"""

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


def _grass_mix(rng: np.random.Generator) -> dict[str, float]:
    """Shares of the grassland materials, drawn alike for both grassland classes."""
    return dict(zip(('pasture', 'meadow', 'shrub'), rng.dirichlet((3.0, 3.0, 1.0)), strict=True))


def _herbaceous(c: _Canvas, rng: np.random.Generator) -> None:
    """Irregular patches of the grass mix (no parcels), a few trees."""
    mix = _grass_mix(rng)
    order = rng.permutation(list(mix))
    c.paint(np.ones((c.size, c.size), bool), str(order[0]))
    field_ = _smooth(rng, (c.size, c.size), rng.uniform(5, 12))
    low = 0.0
    for name in order[1:]:  # bands of one smooth field: patches of each share
        mask = (field_ >= np.quantile(field_, low)) & (
            field_ < np.quantile(field_, min(1.0, low + mix[name]))
        )
        c.paint(mask, str(name))
        low += mix[name]
    _blobs(c, rng, 'forest', rng.uniform(0.01, 0.06), 6)


def _pasture(c: _Canvas, rng: np.random.Generator) -> None:
    """Parcels of the grass mix lined by hedgerows, a few trees."""
    mix = _grass_mix(rng)
    shrub = mix.pop('shrub')  # the shrub share goes into the hedgerows
    cells = _fields(c, rng, mix, rng.uniform(35, 60))
    hedge = _edges(cells)
    c.paint(hedge & (_smooth(rng, (c.size, c.size), 6) > -1.5 + 3 * shrub), 'shrub')
    _blobs(c, rng, 'forest', rng.uniform(0.01, 0.06), 6)


def _permanent_crop(c: _Canvas, rng: np.random.Generator) -> None:
    _cropland(c, rng, 'orchard')


def _highway(c: _Canvas, rng: np.random.Generator) -> None:
    _fields(c, rng, _FARMLAND, rng.uniform(40, 80))
    _line(c, rng, 'asphalt', rng.uniform(8, 14), rng.uniform(0, 6), ('meadow', rng.uniform(2, 5)))
    if rng.random() < 0.4:
        _line(c, rng, 'asphalt', rng.uniform(3, 5), 6)


#: Ground and roofs of both built-up classes (spatial twins).
_BUILT_GROUND = {'asphalt': 0.3, 'meadow': 0.3, 'pasture': 0.2, 'soil': 0.1, 'forest': 0.1}
_ROOFS = {'concrete': 0.4, 'tile_roof': 0.3, 'metal_roof': 0.3}


def _built_up(c: _Canvas, rng: np.random.Generator, block: float) -> None:
    """One building per block of a street grid; streets and plots scale with the block, so the
    built-up share does not depend on the block size."""
    _fields(c, rng, _BUILT_GROUND, rng.uniform(60, 100))
    street = rng.uniform(0.12, 0.18) * block
    _buildings(c, rng, _ROOFS, block, (0.55, 0.9), street)


def _industrial(c: _Canvas, rng: np.random.Generator) -> None:
    """A few large halls."""
    _built_up(c, rng, rng.uniform(45, 75))


def _residential(c: _Canvas, rng: np.random.Generator) -> None:
    """Many small houses."""
    _built_up(c, rng, rng.uniform(12, 20))


def _water_scene(c: _Canvas, rng: np.random.Generator) -> tuple[str, tuple[str, float], float]:
    """Farmland, and the water material, bank and water share both water classes draw alike."""
    _fields(c, rng, _FARMLAND, rng.uniform(40, 80))
    water = ('sea', 'river_water')[rng.integers(2)]
    bank = (('sand', 'shrub', 'meadow')[rng.integers(3)], rng.uniform(3, 8))
    return water, bank, rng.uniform(0.15, 0.45)


def _river(c: _Canvas, rng: np.random.Generator) -> None:
    """A meandering strip across the tile."""
    water, bank, share = _water_scene(c, rng)
    _line(c, rng, water, share * c.size, rng.uniform(8, 30), bank)


def _sea_lake(c: _Canvas, rng: np.random.Generator) -> None:
    """A shore: water over one side of the tile."""
    water, (bank, width), share = _water_scene(c, rng)
    u, _ = _rotated(rng, c.size)
    level = _smooth(rng, (c.size, c.size), c.size / 6) + u / c.size * rng.uniform(2, 4)
    water_mask = _top(level, share)
    shore = _top(level, min(1.0, share + 2 * width / c.size))  # a river has two banks
    c.paint(shore, bank)
    c.paint(water_mask, water)


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
