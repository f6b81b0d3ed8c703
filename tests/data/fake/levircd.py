"""Fake LEVIR-CD in the real layout TorchGeo's ``LEVIRCD`` reads.

``{A,B,label}/<split>_<n>.png``: 8-bit RGB pairs (real ones are 1024 px; 64 here) and 8-bit
change masks (255 = change), all splits side by side as the three zips extract.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

PAIRS = {'train': 4, 'val': 2, 'test': 2}
SIZE = 64
#: Red, green and blue pixels lie in [code, code + NOISE).
CODES = {'B04': 200.0, 'B03': 120.0, 'B02': 40.0}
NOISE = 10


def write(root: Path, seed: int = 0) -> Path:
    """Write the fake LEVIR-CD under ``root`` and return ``root``."""
    rng = np.random.default_rng(seed)
    for folder in ('A', 'B', 'label'):
        (root / folder).mkdir(parents=True, exist_ok=True)
    base = np.array([CODES['B04'], CODES['B03'], CODES['B02']])
    for split, count in PAIRS.items():
        for i in range(1, count + 1):
            name = f'{split}_{i}.png'
            for folder in ('A', 'B'):
                rgb = base + rng.integers(0, NOISE, (SIZE, SIZE, 3))
                Image.fromarray(rgb.astype(np.uint8)).save(root / folder / name)
            mask = np.zeros((SIZE, SIZE), np.uint8)
            mask[8:24, 8 : 8 + 4 * i] = 255
            Image.fromarray(mask).save(root / 'label' / name)
    return root
