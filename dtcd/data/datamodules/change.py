"""Bi-temporal change-detection DataModules (PAPER.md §3.1: OSCD, LEVIR-CD) on TorchGeo.

Batches: ``image`` float32 ``[B, 2, C, H, W]`` (both dates, bands in ``bands`` order), ``mask``
int64 ``[B, 1, H, W]`` (1 = change). Training crops are cut per sample on the CPU, so scenes of
different sizes (OSCD's regions) still collate and only the crop travels to the device; the
device then flips both dates and the mask together. Evaluation uses whole scenes at their native
size: no resize blurs the change map and every labelled pixel is scored once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import kornia.augmentation as K
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from torchgeo.datasets import LEVIRCD, OSCD
from torchvision.transforms import Compose

from dtcd.bands import RGB, S2_L1C_13, BandStats
from dtcd.data.datamodules.base import check_val_fraction
from dtcd.data.datamodules.downstream import DownstreamDataModule, _Pipeline, split_off
from dtcd.data.datamodules.layout import DatasetLayout
from dtcd.data.specs import OSCD_FOLDERS, OSCD_IMAGES, oscd_labels

#: TorchGeo's OSCD statistics (``torchgeo/datamodules/oscd.py``, ``MEAN`` / ``STD``), digital
#: numbers, computed on the OSCD images.
OSCD_STATS = BandStats(
    mean={
        'B01': 1565.696044921875,
        'B02': 1351.3319091796875,
        'B03': 1257.1082763671875,
        'B04': 1254.932861328125,
        'B05': 1388.689208984375,
        'B06': 1827.6710205078125,
        'B07': 2050.2744140625,
        'B08': 1963.4619140625,
        'B8A': 2182.680908203125,
        'B09': 629.837646484375,
        'B10': 14.855598449707031,
        'B11': 1909.8394775390625,
        'B12': 1379.6024169921875,
    },
    std={
        'B01': 263.7977600097656,
        'B02': 394.5567321777344,
        'B03': 508.9673767089844,
        'B04': 726.4053344726562,
        'B05': 686.6111450195312,
        'B06': 730.0204467773438,
        'B07': 822.0133056640625,
        'B08': 842.5917358398438,
        'B8A': 895.7645263671875,
        'B09': 314.8407287597656,
        'B10': 9.417905807495117,
        'B11': 984.9249267578125,
        'B12': 844.7711181640625,
    },
)


class RandomCropPair:
    """Sample transform: one random ``size``² window of both dates and the mask.

    Scenes smaller than ``size`` are padded first: the image with NaN (filled with the band mean
    after normalisation), the mask with 0 (no change). Works on any leading dimensions, so on
    TorchGeo OSCD's ``[1, 2, C, H, W]`` as well as on ``[2, C, H, W]``.
    """

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        image, mask = sample['image'], sample['mask']
        height, width = image.shape[-2:]
        pad_h, pad_w = max(0, self.size - height), max(0, self.size - width)
        if pad_h or pad_w:
            image = F.pad(image.float(), (0, pad_w, 0, pad_h), value=float('nan'))
            mask = F.pad(mask, (0, pad_w, 0, pad_h), value=0)
            height, width = image.shape[-2:]
        top = int(torch.randint(height - self.size + 1, ()))
        left = int(torch.randint(width - self.size + 1, ()))
        window = (..., slice(top, top + self.size), slice(left, left + self.size))
        sample['image'], sample['mask'] = image[window].clone(), mask[window].clone()
        return sample


class ChangeDataModule(DownstreamDataModule):
    """Shared behaviour of the change-detection DataModules.

    ``input_size`` is the side of the training crops, cut per sample on the CPU; evaluation
    batches hold whole scenes at native size.
    """

    task = 'change'
    classes = ('no change', 'change')

    def train_transforms(self, transforms: Callable) -> Callable:
        """Reindex bands, then crop to ``input_size`` (when set)."""
        if self.input_size is None:
            return transforms
        return Compose([transforms, RandomCropPair(self.input_size)])

    def _build_augmentations(self) -> None:
        """Flips on the device for training (crops are already cut); nothing else for eval."""
        flips = [K.RandomHorizontalFlip(), K.RandomVerticalFlip()]
        self.train_aug = _Pipeline(flips, self.task, self.mean, self.std)
        self.aug = _Pipeline([], self.task, self.mean, self.std)


class OSCDDataModule(ChangeDataModule):
    """Onera Satellite Change Detection: 13-band Sentinel-2 pairs of 24 regions (~600² px).

    OSCD ships only train and test regions; validation is a seeded share of the train regions
    (``val_fraction``, generator seed 0, as TorchGeo's OSCDDataModule does), taken from the regions
    sorted by name so the split does not depend on the file system's listing order. Regions
    differ in size, so evaluation batches hold one region each. Also reads SynthEO's ``oscd/``
    folder (96 px regions: use ``input_size`` 64 or less there). Normalised with TorchGeo's OSCD
    statistics; bands are reindexed by name (OSCD stores B8A after B08).

    Args:
        root: Folder holding the OSCD image and label folders.
        bands: Band order of the batches (``None``: OSCD's 13 bands).
        input_size: Side of the random training crops (``None`` needs ``batch_size`` 1).
        val_fraction: Share of the train regions held out for validation (at least one).
        train_fraction: Share of the (remaining) train regions to use, seeded.
        seed: Seed of the low-data subset.
        batch_size: Training crops per batch and device.
        **kwargs: The other loader options of
            :class:`~dtcd.data.datamodules.base.DTCDDataModule`.
    """

    dataset_bands = S2_L1C_13
    stats = OSCD_STATS
    layout = DatasetLayout(
        'OSCD',
        'https://rcdaudt.github.io/oscd/ (the three "Onera Satellite Change Detection dataset" '
        'zips)',
        f"""
        {OSCD_IMAGES}/<region>/imgs_{{1,2}}_rect/B01.tif ... B12.tif (B8A.tif too)
        {OSCD_IMAGES}/<region>/dates.txt
        {oscd_labels('train')}/<region>/cm/cm.png
        {oscd_labels('test')}/<region>/cm/cm.png
        (or the three zips, which TorchGeo extracts)
        """,
        archives={folder: f'{folder}.zip' for folder in OSCD_FOLDERS},
    )

    def __init__(
        self,
        root: str = 'data/oscd',
        bands: str | Sequence[str] | None = None,
        input_size: int | None = 256,
        val_fraction: float = 0.2,
        train_fraction: float = 1.0,
        seed: int = 0,
        batch_size: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            root, bands, input_size, train_fraction, seed, batch_size=batch_size, **kwargs
        )
        check_val_fraction(val_fraction)
        if input_size is None and batch_size > 1:
            raise ValueError(
                'OSCD regions differ in size: set input_size (training crop side) or batch_size 1.'
            )
        self.val_fraction = val_fraction
        self.val_batch_size = self.test_batch_size = 1  # regions differ in size

    def build_dataset(
        self, split: Literal['train', 'val', 'test'], transforms: Callable
    ) -> Dataset:
        """TorchGeo's OSCD split; ``'val'`` and ``'train'`` partition its train regions."""
        source = 'test' if split == 'test' else 'train'
        labels = oscd_labels(source)
        self.layout.require(self.root, [OSCD_IMAGES, labels])
        if split == 'train':
            transforms = self.train_transforms(transforms)
        with self.layout.explain(self.root):
            try:
                dataset = OSCD(self.root, source, bands=S2_L1C_13, transforms=transforms)
            except IndexError as error:  # TorchGeo indexes the 13 band files of each date
                raise self.layout.error(self.root, 'a region lacks band files') from error
        dataset.files.sort(key=lambda f: f['region'])
        if not dataset.files:
            raise self.layout.error(self.root, f'no {source} regions found')
        if split == 'test':
            return dataset
        if len(dataset) < 2:
            raise self.layout.error(self.root, 'fewer than 2 train regions (need train and val)')
        return split_off(dataset, self.val_fraction, split)


class LEVIRCDDataModule(ChangeDataModule):
    """LEVIR-CD: 637 RGB pairs (0.5 m, 1024² px, 8-bit) of building change in Texas.

    Bands are named ``('B04', 'B03', 'B02')`` (red, green, blue) so RGB stems and band
    reindexing work as for Sentinel-2; values stay 0–255. TorchGeo publishes no statistics (it
    divides by 255), so they are computed on the training split. Evaluation uses the full 1024²
    pairs.

    Args:
        root: Folder holding ``A/``, ``B/`` and ``label/``.
        bands: Band order of the batches (``None``: R, G, B).
        input_size: Side of the random training crops.
        train_fraction: Share of the training pairs to use, seeded.
        seed: Seed of the low-data subset.
        batch_size: Images per batch and device.
        **kwargs: The other loader options of
            :class:`~dtcd.data.datamodules.base.DTCDDataModule`.
    """

    dataset_bands = RGB
    layout = DatasetLayout(
        'LEVIR-CD',
        'https://justchenhao.github.io/LEVIR/ (train.zip, val.zip, test.zip, extracted together)',
        """
        A/{train,val,test}_<n>.png       first date, 8-bit RGB, 1024x1024
        B/{train,val,test}_<n>.png       second date
        label/{train,val,test}_<n>.png   0 = no change, 255 = change
        """,
    )

    def __init__(
        self,
        root: str = 'data/levircd',
        bands: str | Sequence[str] | None = None,
        input_size: int | None = 256,
        train_fraction: float = 1.0,
        seed: int = 0,
        batch_size: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            root, bands, input_size, train_fraction, seed, batch_size=batch_size, **kwargs
        )

    def build_dataset(
        self, split: Literal['train', 'val', 'test'], transforms: Callable
    ) -> Dataset:
        """TorchGeo's LEVIR-CD split."""
        self.layout.require(self.root, ['A', 'B', 'label'])
        if split == 'train':
            transforms = self.train_transforms(transforms)
        with self.layout.explain(self.root):
            dataset = LEVIRCD(self.root, split, transforms=transforms)
        if not dataset.files:
            raise self.layout.error(self.root, f'no {split}_*.png pairs found')
        return dataset
