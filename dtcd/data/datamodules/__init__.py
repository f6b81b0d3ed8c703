"""LightningDataModules on TorchGeo: pretraining sources and downstream datasets."""

from dtcd.data.datamodules.base import DTCDDataModule
from dtcd.data.datamodules.classification import EuroSATDataModule
from dtcd.data.datamodules.downstream import DownstreamDataModule, band_stats_of
from dtcd.data.datamodules.pretrain import PairedPretrainDataModule, pretrain_stats

__all__ = [
    'DTCDDataModule',
    'DownstreamDataModule',
    'EuroSATDataModule',
    'PairedPretrainDataModule',
    'band_stats_of',
    'pretrain_stats',
]
