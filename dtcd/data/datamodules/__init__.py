"""LightningDataModules on TorchGeo: pretraining sources and downstream datasets."""

from dtcd.data.datamodules.base import DTCDDataModule
from dtcd.data.datamodules.change import LEVIRCDDataModule, OSCDDataModule
from dtcd.data.datamodules.classification import EuroSATDataModule
from dtcd.data.datamodules.downstream import DownstreamDataModule, band_stats_of
from dtcd.data.datamodules.layout import DatasetLayoutError
from dtcd.data.datamodules.pretrain import PairedPretrainDataModule, pretrain_stats
from dtcd.data.datamodules.segmentation_synth import SynthEOSegmentationDataModule

__all__ = [
    'DTCDDataModule',
    'DatasetLayoutError',
    'DownstreamDataModule',
    'EuroSATDataModule',
    'LEVIRCDDataModule',
    'OSCDDataModule',
    'PairedPretrainDataModule',
    'SynthEOSegmentationDataModule',
    'band_stats_of',
    'pretrain_stats',
]
