"""Fake SSL4EO-S12 (Sentinel-2) in the real layout TorchGeo's ``SSL4EOS12`` reads.

``<s2c|s2a>/<7-digit location>/<season>/<band>.tif``: four season folders per location, named
like the Sentinel-2 products (``YYYYMMDDTHHMMSS_YYYYMMDDTHHMMSS_T<tile>``), one uint16 GeoTIFF
per band at its native resolution (10 m 264 px, 20 m 132 px, 60 m 44 px; band files named
``B1`` .. ``B12``). Season ``k`` (in date order) adds ``5 k`` to the band codes, so a test can
tell the seasons apart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dtcd.bands import S2_BANDS
from tests.data.fake.codes import CODES, write_tif

SEASON_DATES = ('20210315T101021', '20210614T101031', '20210912T101029', '20211211T101311')
SIZE_BY_GSD = {10: 264, 20: 132, 60: 44}
FILE_BANDS = {
    's2c': ('B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B8A', 'B9', 'B10', 'B11', 'B12'),
    's2a': ('B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B8A', 'B9', 'B11', 'B12'),
}
SEASON_STEP = 5


def band_name(file_band: str) -> str:
    """``'B1'`` to ``'B01'``."""
    return f'B0{file_band[1:]}' if len(file_band) == 2 else file_band


def write(root: Path, seed: int = 0, split: str = 's2c', locations: int = 3) -> Path:
    """Write ``locations`` fake locations of ``split`` under ``root`` and return ``root``."""
    rng = np.random.default_rng(seed)
    for location in range(locations):
        for season, date in enumerate(SEASON_DATES):
            folder = root / split / f'{location:07}' / f'{date}_{date}_T32UNU'
            for file_band in FILE_BANDS[split]:
                band = band_name(file_band)
                gsd = S2_BANDS[band].gsd_m
                size = SIZE_BY_GSD[gsd]
                value = CODES[band] + SEASON_STEP * season + rng.integers(0, SEASON_STEP, size**2)
                array = value.reshape(size, size).astype(np.uint16)
                write_tif(folder / f'{file_band}.tif', array, gsd)
    return root
