"""SynthEO's surface materials: reflectance spectra, textures and land covers.

Each :class:`Material` states its surface reflectance in the eleven bands that see the ground;
:data:`_SPECTRA` extends it to all 13 L1C bands. The arrays here are indexed by material id, the
position in :data:`MATERIALS`, which is what scene canvases store.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dtcd.bands import S2_L1C_13

# Bands whose reflectance a material states; B09 (water vapour) sees B8A's surface and B10
# (cirrus) B11's, both through an absorbing atmosphere (see sensor._ATM_GAIN).
_SURFACE_BANDS = ('B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B11', 'B12')


@dataclass(frozen=True)
class Material:
    """A surface material.

    Attributes:
        name: Short name.
        reflectance: Surface reflectance in percent at B01, B02, B03, B04, B05, B06, B07, B08, B8A,
            B11 and B12.
        texture: Relative amplitude of its within-object brightness texture (canopy, roof tiles).
        cover: Index into :data:`dtcd.data.specs.LAND_COVER_CLASSES`.
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
