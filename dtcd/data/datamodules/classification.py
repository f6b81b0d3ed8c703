"""Scene-classification DataModules (PAPER.md §3.3) on TorchGeo dataset classes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from torch.utils.data import Dataset
from torchgeo.datasets import EuroSAT

from dtcd.bands import EUROSAT13, SENTINEL2_DN
from dtcd.data.datamodules.downstream import DownstreamDataModule
from dtcd.data.synthetic import EUROSAT_CLASSES


class EuroSATDataModule(DownstreamDataModule):
    """EuroSAT (13-band Sentinel-2, 64 px, 10 classes) through ``torchgeo.datasets.EuroSAT``.

    Also reads SynthEO's ``eurosat/`` folder, which uses the same layout. EuroSAT stores B8A
    last; bands are reindexed by name. Normalised with TorchGeo's EuroSAT statistics.
    """

    task = 'multiclass'
    dataset_bands = EUROSAT13
    classes = EUROSAT_CLASSES
    stats = SENTINEL2_DN

    def build_dataset(
        self, split: Literal['train', 'val', 'test'], transforms: Callable
    ) -> Dataset:
        """The TorchGeo EuroSAT split (no download: data must be under ``root``)."""
        return EuroSAT(root=self.root, split=split, bands=EUROSAT13, transforms=transforms)
