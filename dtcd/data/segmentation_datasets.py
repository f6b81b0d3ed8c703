"""Segmentation dataset classes TorchGeo 0.8 lacks, in TorchGeo's conventions.

Sen1Floods11's hand-labelled chips are read from the layout of the public bucket
(``gs://sen1floods11``); GEO-Bench tasks are read by :mod:`dtcd.data.geobench`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import rasterio
import torch
from torch import Tensor
from torch.utils.data import Dataset

from dtcd.bands import S2_L1C_13

__all__ = ['Sen1Floods11']

Transforms = Callable[[dict[str, Tensor]], dict[str, Tensor]]


class Sen1Floods11(Dataset[dict[str, Tensor]]):
    """Sen1Floods11 hand-labelled flood chips, Sentinel-2 part: 13 bands, 512 × 512, 2 classes.

    Layout (as published at ``gs://sen1floods11/v1.1``, https://github.com/cloudtostreet/Sen1Floods11)::

        <root>/v1.1/data/flood_events/HandLabeled/S2Hand/<Country>_<id>_S2Hand.tif
        <root>/v1.1/data/flood_events/HandLabeled/LabelHand/<Country>_<id>_LabelHand.tif
        <root>/v1.1/splits/flood_handlabeled/flood_{train,valid,test}_data.csv

    The split CSVs have no header; each row is ``<..._S1Hand.tif>,<..._LabelHand.tif>``, and the
    Sentinel-2 chip is found by replacing ``S1Hand`` with ``S2Hand``. Images are the 13 L1C bands in
    product order (B8A after B08). Labels are -1 (no data), 0 (not water), 1 (water); no data
    becomes :attr:`ignore_index`.
    """

    classes = ('not water', 'water')
    all_band_names = S2_L1C_13
    #: Mask value of pixels without a label (the files' -1).
    ignore_index = 255
    splits: dict[str, str] = {'train': 'train', 'val': 'valid', 'test': 'test'}
    hand_labeled = Path('v1.1', 'data', 'flood_events', 'HandLabeled')
    split_dir = Path('v1.1', 'splits', 'flood_handlabeled')

    def __init__(
        self,
        root: str | Path = 'data',
        split: Literal['train', 'val', 'test'] = 'train',
        transforms: Transforms | None = None,
    ) -> None:
        """Index one split.

        Args:
            root: Folder holding ``v1.1/``.
            split: ``'train'``, ``'val'`` (the ``valid`` CSV) or ``'test'``.
            transforms: Applied to each sample dict.

        Raises:
            FileNotFoundError: Naming the missing split file or chips, and the layout expected.
            ValueError: For an unknown split.
        """
        if split not in self.splits:
            raise ValueError(f'split must be one of {list(self.splits)}, got {split!r}.')
        self.root, self.split, self.transforms = Path(root), split, transforms
        csv_path = self.root / self.split_dir / f'flood_{self.splits[split]}_data.csv'
        if not csv_path.is_file():
            raise FileNotFoundError(
                f'{csv_path} is missing. Sen1Floods11 is published at gs://sen1floods11 '
                '(https://github.com/cloudtostreet/Sen1Floods11); dtcd expects root to hold its '
                f'v1.1/ folder: {self.split_dir}/flood_<split>_data.csv, '
                f'{self.hand_labeled}/S2Hand/*_S2Hand.tif and {self.hand_labeled}/LabelHand/.'
            )
        with csv_path.open(newline='') as f:
            rows = [row for row in csv.reader(f) if row]
        folder = self.root / self.hand_labeled
        self.images = [folder / 'S2Hand' / r[0].strip().replace('S1Hand', 'S2Hand') for r in rows]
        self.masks = [folder / 'LabelHand' / r[1].strip() for r in rows]
        missing = [p for p in (*self.images, *self.masks) if not p.is_file()]
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} file(s) listed in {csv_path} are missing, e.g. '
                f'{[str(p) for p in missing[:3]]}.'
            )

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """``{'image': float32 [13, H, W], 'mask': int64 [H, W]}``."""
        with rasterio.open(self.images[index]) as src:
            image = torch.from_numpy(src.read().astype(np.float32))
        if image.shape[0] != len(self.all_band_names):
            raise ValueError(
                f'{self.images[index]} has {image.shape[0]} bands; Sen1Floods11 S2Hand chips have '
                f'the {len(self.all_band_names)} L1C bands {list(self.all_band_names)}.'
            )
        with rasterio.open(self.masks[index]) as src:
            label = torch.from_numpy(src.read(1).astype(np.int64))
        mask = torch.where(label < 0, self.ignore_index, label)
        sample = {'image': image, 'mask': mask}
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample
