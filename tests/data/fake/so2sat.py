"""Fake So2Sat LCZ42 version 2 in the real layout TorchGeo's ``So2Sat`` reads.

``training.h5``, ``validation.h5``, ``testing.h5``, each with float64 datasets ``sen1``
[N, 32, 32, 8], ``sen2`` [N, 32, 32, 10] (reflectance, bands B02..B08, B8A, B11, B12) and
``label`` [N, 17] one-hot.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from tests.data.fake.codes import CODES, NOISE

S2_BANDS = ('B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B11', 'B12')
FILES = {'training.h5': 8, 'validation.h5': 3, 'testing.h5': 3}
#: Reflectance codes (So2Sat stores reflectance, not digital numbers).
REFLECTANCE_CODES = {band: CODES[band] / 10000 for band in S2_BANDS}
REFLECTANCE_NOISE = NOISE / 10000


def write(root: Path, seed: int = 0) -> Path:
    """Write the fake So2Sat under ``root`` and return ``root``."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for name, count in FILES.items():
        codes = np.array([REFLECTANCE_CODES[b] for b in S2_BANDS])
        sen2 = codes + rng.uniform(0, REFLECTANCE_NOISE, (count, 32, 32, len(S2_BANDS)))
        sen1 = -100.0 + rng.normal(0, 1, (count, 32, 32, 8))  # far from every S2 code
        label = np.eye(17)[rng.integers(0, 17, count)]
        with h5py.File(root / name, 'w') as f:
            f.create_dataset('sen1', data=sen1)
            f.create_dataset('sen2', data=sen2)
            f.create_dataset('label', data=label)
    return root
