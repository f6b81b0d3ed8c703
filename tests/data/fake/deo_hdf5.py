"""Fake DEO pretraining HDF5 file: one ``images`` array of 13-channel tiles.

The DEO authors train from a single HDF5 file of fMoW-Sentinel tiles (PAPER.md §2.7); its
``images`` array is written here as uint16 ``[N, 13, H, W]`` (``nchw``) or ``[N, H, W, 13]``,
each channel coded with the band the authors' code takes it for (``DEO_HDF5_13``).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from dtcd.bands import DEO_HDF5_13
from tests.data.fake.codes import coded

COUNT = 12
SIZE = 32


def write(root: Path, seed: int = 0, layout: str = 'nchw') -> Path:
    """Write ``root/fmow_sentinel.h5`` and return the file's path."""
    rng = np.random.default_rng(seed)
    tiles = np.stack(
        [np.stack([coded(rng, b, (SIZE, SIZE)) for b in DEO_HDF5_13]) for _ in range(COUNT)]
    )
    if layout == 'nhwc':
        tiles = tiles.transpose(0, 2, 3, 1)
    root.mkdir(parents=True, exist_ok=True)
    path = root / 'fmow_sentinel.h5'
    with h5py.File(path, 'w') as f:
        f.create_dataset('images', data=tiles, chunks=(1, *tiles.shape[1:]))
    return path
