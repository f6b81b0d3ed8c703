"""A tiny Sen1Floods11 hand-labelled set in the public bucket's layout (``gs://sen1floods11``).

``v1.1/data/flood_events/HandLabeled/{S2Hand,LabelHand}/<Country>_<id>_{S2Hand,LabelHand}.tif``
and header-less split CSVs ``v1.1/splits/flood_handlabeled/flood_{train,valid,test}_data.csv`` of
``<..._S1Hand.tif>,<..._LabelHand.tif>`` rows. Band ``i`` (L1C order) of chip ``k`` is
``100 i + k``; pixel (0, 0) of band 0 is NaN. Labels: the top four rows are -1 (no data), the
rest alternate 0 / 1 in 4-column stripes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio

SIDE = 32
SPLITS = {'train': 4, 'valid': 2, 'test': 2}
NO_DATA_ROWS = 4


def write(root: Path, seed: int = 0) -> Path:
    """Write the chips and split CSVs under ``root`` and return ``root``."""
    rng = np.random.default_rng(seed)
    labelled = root / 'v1.1' / 'data' / 'flood_events' / 'HandLabeled'
    splits = root / 'v1.1' / 'splits' / 'flood_handlabeled'
    for name in ('S2Hand', 'LabelHand', 'S1Hand'):
        (labelled / name).mkdir(parents=True, exist_ok=True)
    splits.mkdir(parents=True, exist_ok=True)
    chip = 0
    for split, count in SPLITS.items():
        rows = []
        for _ in range(count):
            stem = f'{rng.choice(["Bolivia", "Ghana", "India"])}_{100000 + chip}'
            image = np.stack([np.full((SIDE, SIDE), 100 * i + chip, np.float32) for i in range(13)])
            image[0, 0, 0] = np.nan
            label = np.tile(np.arange(SIDE, dtype=np.int16) // 4 % 2, (SIDE, 1))
            label[:NO_DATA_ROWS] = -1
            _tif(labelled / 'S2Hand' / f'{stem}_S2Hand.tif', image)
            _tif(labelled / 'LabelHand' / f'{stem}_LabelHand.tif', label[None])
            rows.append(f'{stem}_S1Hand.tif,{stem}_LabelHand.tif\n')
            chip += 1
        (splits / f'flood_{split}_data.csv').write_text(''.join(rows))
    return root


def _tif(path: Path, array: np.ndarray) -> None:
    profile = {
        'driver': 'GTiff',
        'height': array.shape[1],
        'width': array.shape[2],
        'count': array.shape[0],
        'dtype': array.dtype.name,
        'crs': 'EPSG:4326',
        'transform': rasterio.transform.from_origin(-65.0, -15.0, 1e-4, 1e-4),
    }
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(array)
