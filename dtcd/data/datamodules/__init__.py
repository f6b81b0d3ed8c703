"""LightningDataModules on TorchGeo: pretraining sources and downstream datasets."""

from dtcd.data.datamodules.base import DTCDDataModule
from dtcd.data.datamodules.change import LEVIRCDDataModule, OSCDDataModule
from dtcd.data.datamodules.classification import (
    BigEarthNetDataModule,
    EuroSATDataModule,
    So2SatDataModule,
)
from dtcd.data.datamodules.downstream import DownstreamDataModule, band_stats_of
from dtcd.data.datamodules.geobench import GeoBenchDataModule
from dtcd.data.datamodules.layout import DatasetLayoutError
from dtcd.data.datamodules.pretrain import (
    HDF5PretrainDataModule,
    PairedPretrainDataModule,
    SSL4EOS12DataModule,
    pretrain_stats,
)
from dtcd.data.datamodules.segmentation import (
    PASTISDataModule,
    Sen1Floods11DataModule,
    SpaceNet1DataModule,
)
from dtcd.data.datamodules.segmentation_synth import SynthEOSegmentationDataModule
from dtcd.data.datamodules.streaming import StreamingPretrainDataModule

__all__ = [
    'BigEarthNetDataModule',
    'DTCDDataModule',
    'DatasetLayoutError',
    'DownstreamDataModule',
    'EuroSATDataModule',
    'GeoBenchDataModule',
    'HDF5PretrainDataModule',
    'LEVIRCDDataModule',
    'OSCDDataModule',
    'PASTISDataModule',
    'PairedPretrainDataModule',
    'SSL4EOS12DataModule',
    'Sen1Floods11DataModule',
    'So2SatDataModule',
    'SpaceNet1DataModule',
    'StreamingPretrainDataModule',
    'SynthEOSegmentationDataModule',
    'band_stats_of',
    'pretrain_stats',
]
