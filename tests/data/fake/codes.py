"""Band-coded pixel values: each band's pixels lie just above a code, so order is checkable."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from dtcd.bands import S2_L1C_13

#: Pixels of a band lie in ``[code, code + NOISE)``.
NOISE = 20
#: Digital-number code of each Sentinel-2 band: B01 1000, B02 1100, ..., B12 2200.
CODES: dict[str, float] = {band: 1000.0 + 100.0 * i for i, band in enumerate(S2_L1C_13)}


def coded(rng: np.random.Generator, band: str, shape: Sequence[int]) -> np.ndarray:
    """uint16 pixels of ``band``: its code plus noise below :data:`NOISE`."""
    return (CODES[band] + rng.integers(0, NOISE, shape)).astype(np.uint16)


def write_tif(path: Path, array: np.ndarray, pixel_m: float = 10.0, compress: bool = True) -> None:
    """A single- or multi-band GeoTIFF in UTM 32N (``array`` is [H, W] or [C, H, W])."""
    bands = array[None] if array.ndim == 2 else array
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        'driver': 'GTiff',
        'height': bands.shape[1],
        'width': bands.shape[2],
        'count': bands.shape[0],
        'dtype': bands.dtype.name,
        'crs': 'EPSG:32632',
        'transform': from_origin(500000.0, 5000000.0, pixel_m, pixel_m),
    }
    if compress:
        profile['compress'] = 'deflate'
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(bands)
