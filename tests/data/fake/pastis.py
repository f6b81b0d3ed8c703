"""A tiny PASTIS-R in the layout TorchGeo's ``PASTIS`` reads.

``PASTIS-R/metadata.geojson`` (``ID_PATCH``, ``Fold``), ``PASTIS-R/DATA_S2/S2_<id>.npy`` int16
``[T, 10, 16, 16]`` and ``PASTIS-R/ANNOTATIONS/TARGET_<id>.npy`` ``[3, 16, 16]``. Two patches per
fold. Band ``i`` (B02 … B12 order) of date ``t`` is ``100 i + DATE_OFFSETS[t]``: patches with an
odd id have 3 dates (median offset 10), even ones 4 (median offset 15, NumPy's mean of the
middle two). Class 19 (void) fills the first row of every target.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SIDE = 16
DATE_OFFSETS = (0, 10, 20, 1000)
FIRST_ID = 10000


def median_offset(patch: int) -> float:
    """The temporal median's offset over band ``100 i`` for patch ``patch``."""
    return float(np.median(DATE_OFFSETS[: _dates(patch)]))


def _dates(patch: int) -> int:
    return 3 if patch % 2 else 4


def write(root: Path, seed: int = 0) -> Path:
    """Write ten patches (folds 1–5) under ``root/PASTIS-R`` and return ``root``."""
    rng = np.random.default_rng(seed)
    folder = root / 'PASTIS-R'
    (folder / 'DATA_S2').mkdir(parents=True, exist_ok=True)
    (folder / 'ANNOTATIONS').mkdir(parents=True, exist_ok=True)
    features = []
    for k in range(10):
        patch = FIRST_ID + k
        offsets = np.array(DATE_OFFSETS[: _dates(patch)], dtype=np.int16)
        series = (
            100 * np.arange(10, dtype=np.int16)[None, :, None, None] + offsets[:, None, None, None]
        )
        np.save(
            folder / 'DATA_S2' / f'S2_{patch}.npy',
            np.broadcast_to(series, (len(offsets), 10, SIDE, SIDE)).astype(np.int16),
        )
        target = rng.integers(0, 19, (3, SIDE, SIDE)).astype(np.uint8)
        target[0, 0] = 19
        np.save(folder / 'ANNOTATIONS' / f'TARGET_{patch}.npy', target)
        x, y = 600000.0 + 1280 * k, 6800000.0
        ring = [[x, y], [x + 1280, y], [x + 1280, y + 1280], [x, y + 1280], [x, y]]
        features.append(
            {
                'type': 'Feature',
                'properties': {
                    'ID_PATCH': patch,
                    'Fold': k // 2 + 1,
                    'N_Parcel': 3,
                    'TILE': 'T31TFM',
                },
                'geometry': {'type': 'Polygon', 'coordinates': [ring]},
            }
        )
    collection = {
        'type': 'FeatureCollection',
        'features': features,
        'crs': {'type': 'name', 'properties': {'name': 'urn:ogc:def:crs:EPSG::2154'}},
    }
    (folder / 'metadata.geojson').write_text(json.dumps(collection))
    return root
