"""LightningDataModules on TorchGeo: pretraining sources and downstream datasets."""

from dtcd.data.datamodules.base import DTCDDataModule
from dtcd.data.datamodules.pretrain import PairedPretrainDataModule, pretrain_stats

__all__ = ['DTCDDataModule', 'PairedPretrainDataModule', 'pretrain_stats']
