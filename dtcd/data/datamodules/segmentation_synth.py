"""SynthEO's land-cover segmentation as a downstream DataModule (tests, demos, offline probes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from torch.utils.data import Dataset

from dtcd.bands import S2_L1C_13
from dtcd.data.datamodules.downstream import DownstreamDataModule
from dtcd.data.datamodules.layout import DatasetLayout
from dtcd.data.datasets import SynthEOSegmentation
from dtcd.data.specs import LAND_COVER_CLASSES


class SynthEOSegmentationDataModule(DownstreamDataModule):
    """SynthEO ``segmentation/``: 13-band 64 px tiles with per-pixel land-cover masks.

    Every pixel is labelled (no ``ignore_index``). Statistics are computed on the training split:
    SynthEO is synthetic, so no published numbers describe it.
    """

    task = 'segmentation'
    dataset_bands = S2_L1C_13
    classes = LAND_COVER_CLASSES
    layout = DatasetLayout(
        'SynthEO segmentation',
        '`dtcd synth --out DIR` (then use DIR/segmentation)',
        """
        {train,val,test}/images/<id>.tif   uint16, 13 bands named by band descriptions
        {train,val,test}/masks/<id>.tif    uint8 land-cover ids
        """,
    )

    def build_dataset(
        self, split: Literal['train', 'val', 'test'], transforms: Callable
    ) -> Dataset:
        """One SynthEO split, read through :class:`~dtcd.data.SynthEOSegmentation`."""
        self.layout.require(self.root, [f'{split}/images', f'{split}/masks'])
        return SynthEOSegmentation(self.root, split, S2_L1C_13, transforms)
