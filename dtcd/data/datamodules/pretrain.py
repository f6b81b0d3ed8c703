"""Pretraining DataModules: unlabelled multispectral tiles, RGB replaced by paired HR RGB.

The CPU side reads, reindexes bands by name and (on the device) normalises; cropping and
photometric augmentation happen later, batched on the device, in :class:`~dtcd.augment.MultiCrop`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import random_split

from dtcd.bands import DEO10, FMOW_SENTINEL_DEO10, RGB, BandStats, band_indices, resolve_bands
from dtcd.data.datamodules.base import DTCDDataModule
from dtcd.data.datasets import PairedMSRGB
from dtcd.data.synthetic import HR_RGB_FULL_SCALE_DN


def pretrain_stats(rgb_full_scale_dn: float = HR_RGB_FULL_SCALE_DN) -> BandStats:
    """DEO's statistics in digital numbers: RGB ones rescaled from [0, 1] units.

    DEO normalises RGB in [0, 1] (8-bit HR images / 255) with HR statistics, the other bands in
    digital numbers with fMoW-Sentinel statistics; ``rgb_full_scale_dn`` is the digital number
    that RGB 1.0 stands for.
    """
    mean, std = dict(FMOW_SENTINEL_DEO10.mean), dict(FMOW_SENTINEL_DEO10.std)
    for band in RGB:
        mean[band] *= rgb_full_scale_dn
        std[band] *= rgb_full_scale_dn
    return BandStats(mean, std)


def normalize_like_pretraining(images: Tensor, bands: Sequence[str]) -> Tensor:
    """Standardise ``[B, C, H, W]`` digital numbers the way the student saw them in pretraining.

    :class:`~dtcd.augment.MultiCrop` divides each crop's RGB by its maximum and standardises it
    with DEO's [0, 1]-unit RGB statistics; the other bands keep their fMoW-Sentinel
    standardisation. Applying the same per image (without augmentation) gives frozen-feature
    probes the input distribution the features were learnt on.
    """
    rgb = band_indices(bands, RGB)
    others = [i for i in range(len(bands)) if i not in rgb]
    x = images.float().clone()
    peak = x[:, rgb].amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    mean, std = FMOW_SENTINEL_DEO10.tensors(RGB)
    x[:, rgb] = (x[:, rgb] / peak - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    if others:
        names = [bands[i] for i in others]
        mean, std = FMOW_SENTINEL_DEO10.tensors(names)
        x[:, others] = (x[:, others] - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
    return x


class _OnHRGrid:
    """Upsample the MS bands to the HR RGB grid and put the full-resolution RGB in."""

    def __init__(self, bands: Sequence[str]) -> None:
        self.rgb = band_indices(bands, RGB)

    def __call__(self, sample: dict[str, Any]) -> dict[str, Tensor]:
        image = sample['image']
        hr = sample.pop('rgb_hr', None)
        if hr is None:
            return sample
        image = F.interpolate(image[None], size=hr.shape[-2:], mode='bilinear')[0]
        image[self.rgb] = hr
        sample['image'] = image
        return sample


class PairedPretrainDataModule(DTCDDataModule):
    """Multispectral tiles paired with high-resolution RGB (SynthEO ``pretrain/``, fMoW pairs).

    Reads the documented :class:`~dtcd.data.PairedMSRGB` layout. Batches are
    ``{'image': [B, C, H, W]}`` in ``bands`` order, normalised with :func:`pretrain_stats`.

    Args:
        root: Folder holding ``index.csv``.
        bands: Band order of the batches (the student's MS stem order).
        rgb_source: ``'hr'`` replaces B04, B03, B02 by the paired HR RGB (DEO), ``'s2'`` keeps
            Sentinel-2's.
        grid: ``'ms'`` averages the HR RGB down to the MS grid; ``'hr'`` upsamples the MS bands to
            the HR grid and keeps the HR detail.
        val_fraction: Share of tiles held out to monitor the losses (at least one tile).
        seed: Seed of the train/val split.
        batch_size: Images per batch and device.
        num_workers: Loader worker processes.
        pin_memory: Pin host memory.
        prefetch_factor: Batches each worker prepares ahead.
        persistent_workers: Keep workers alive between epochs.
    """

    def __init__(
        self,
        root: str = 'data/synth/pretrain',
        bands: str | Sequence[str] = DEO10,
        rgb_source: Literal['hr', 's2'] = 'hr',
        grid: Literal['ms', 'hr'] = 'ms',
        val_fraction: float = 0.05,
        seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        prefetch_factor: int | None = None,
        persistent_workers: bool = True,
    ) -> None:
        self.bands = resolve_bands(bands)
        super().__init__(
            PairedMSRGB,
            batch_size,
            num_workers,
            pin_memory,
            prefetch_factor,
            persistent_workers,
            root=root,
            bands=self.bands,
            rgb_mode=rgb_source,
            return_hr=grid == 'hr' and rgb_source == 'hr',
            transforms=_OnHRGrid(self.bands) if grid == 'hr' and rgb_source == 'hr' else None,
        )
        if not 0 < val_fraction < 1:
            raise ValueError(f'val_fraction must lie in (0, 1), got {val_fraction}.')
        self.val_fraction, self.seed = val_fraction, seed
        self.set_normalization(self.bands, pretrain_stats())

    def setup(self, stage: str) -> None:
        """Split the tiles into train and a small validation set, reproducibly."""
        dataset = self.dataset_class(**self.kwargs)
        if len(dataset) == 0:
            raise ValueError(f'No pretraining tiles listed in {self.kwargs["root"]}/index.csv.')
        num_val = min(max(1, round(self.val_fraction * len(dataset))), len(dataset) - 1)
        generator = torch.Generator().manual_seed(self.seed)
        self.train_dataset, self.val_dataset = random_split(
            dataset, [len(dataset) - num_val, num_val], generator=generator
        )
