"""Scene layout: a canvas of objects, each of one material, and the primitives that paint it.

Primitives paint parcels (fields), smooth patches (blobs), roads and rivers (lines) and buildings
onto a :class:`_Canvas`; :mod:`dtcd.data.synthetic.recipes` combines them into whole scenes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from dtcd.data.synthetic.grid import _rotated, _smooth, _strip, _top, _voronoi
from dtcd.data.synthetic.materials import _ID, _NAMES


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
