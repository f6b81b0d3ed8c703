"""Shared DataModule plumbing: TorchGeo's NonGeoDataModule with typed loader options."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import kornia.augmentation as K
from torch import Tensor
from torch.utils.data import DataLoader
from torchgeo.datamodules import NonGeoDataModule

from dtcd.bands import BandStats


class DTCDDataModule(NonGeoDataModule):
    """A NonGeoDataModule whose loader options are explicit, typed arguments.

    Explicit arguments (not ``**kwargs``) let LightningCLI validate them, and expose what TorchGeo
    keeps fixed (``pin_memory``, ``prefetch_factor``). Normalisation runs on the device after the
    batch transfer, through TorchGeo's ``aug`` hook.

    Args:
        dataset_class: The dataset class.
        batch_size: Images per batch and device.
        num_workers: Loader worker processes.
        pin_memory: Pin host memory for faster host-to-GPU copies.
        prefetch_factor: Batches each worker prepares ahead (``None``: PyTorch's default).
        persistent_workers: Keep workers alive between epochs (when ``num_workers > 0``).
        **kwargs: Passed to ``dataset_class``.
    """

    def __init__(
        self,
        dataset_class: type,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        prefetch_factor: int | None = None,
        persistent_workers: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(dataset_class, batch_size, num_workers, **kwargs)
        self.pin_memory = pin_memory
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers

    def set_normalization(self, bands: Sequence[str], stats: BandStats) -> None:
        """Standardise ``image`` on the device with ``stats`` in the order of ``bands``."""
        self.mean, self.std = stats.tensors(bands)
        self.aug = K.AugmentationSequential(
            K.Normalize(mean=self.mean, std=self.std), data_keys=None, keepdim=True
        )

    def _dataloader_factory(self, split: str) -> DataLoader[dict[str, Tensor]]:
        dataset = self._valid_attribute(f'{split}_dataset', 'dataset')
        batch_size = self._valid_attribute(f'{split}_batch_size', 'batch_size')
        workers = self.num_workers > 0
        return DataLoader(
            dataset=dataset,
            batch_size=batch_size,
            shuffle=split == 'train',
            num_workers=self.num_workers,
            collate_fn=self.collate_fn,
            drop_last=split == 'train',
            pin_memory=self.pin_memory,
            prefetch_factor=self.prefetch_factor if workers else None,
            persistent_workers=self.persistent_workers and workers,
        )


def check_val_fraction(val_fraction: float) -> None:
    """Refuse a validation share outside (0, 1), when a DataModule is built rather than at setup."""
    if not 0 < val_fraction < 1:
        raise ValueError(f'val_fraction must lie in (0, 1), got {val_fraction}.')
