"""Semantic-segmentation DataModules (PAPER.md §3.1–3.2) for the datasets outside GEO-Bench.

SpaceNet 1 and PASTIS use TorchGeo's dataset classes; Sen1Floods11 uses
:class:`dtcd.data.segmentation_datasets.Sen1Floods11`. Defaults are the paper's splits and input
sizes. The South-Africa crop-type, Benin cashew and Chesapeake land-cover results are on their
GEO-Bench versions (m-SA-crop-type, m-cashew-plant, m-chesapeake): use
:class:`dtcd.data.datamodules.geobench.GeoBenchDataModule` for them. TorchGeo's
``SouthAfricaCropType``, ``BeninSmallHolderCashews`` and ``ChesapeakeCVPR`` are raster
GeoDatasets that need samplers, and are not what the paper measured on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset, Subset
from torchgeo.datasets import PASTIS, SpaceNet1
from torchvision.transforms import Compose

from dtcd.bands import RGB
from dtcd.data.datamodules.downstream import DownstreamDataModule
from dtcd.data.datamodules.layout import DatasetLayout
from dtcd.data.segmentation_datasets import Sen1Floods11

Split = Literal['train', 'val', 'test']

#: PASTIS's Sentinel-2 channel order (pastis-benchmark README; TorchGeo plots channels 2, 1, 0).
PASTIS_S2: tuple[str, ...] = ('B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B11', 'B12')


class SpaceNet1DataModule(DownstreamDataModule):
    """SpaceNet 1 buildings (Rio de Janeiro, pan-sharpened 8-bit RGB) via TorchGeo's ``SpaceNet1``.

    Only SpaceNet's labelled ``train`` split is used. Its tiles, in TorchGeo's order (ascending
    ``img<n>`` number), are split as in the paper: the first 4999 train, the next 1000 validation,
    the rest (941) test; a smaller copy is split in the same proportions. The low-data subset is
    the first tiles of the training part (10 %: the first 499), not a random draw. TorchGeo
    resamples every chip to 406 × 439 and rasterises the GeoJSON footprints (0 background,
    1 building). Statistics are computed on the training split.
    """

    task = 'segmentation'
    dataset_bands = RGB
    classes = ('background', 'building')
    layout = DatasetLayout(
        'SpaceNet 1',
        's3://spacenet-dataset/spacenet/SN1_buildings/tarballs/ '
        '(SN1_buildings_train_AOI_1_Rio_3band.tar.gz, ..._geojson_buildings.tar.gz)',
        """
        SN1_buildings/train/3band/3band_AOI_1_RIO_img<n>.tif      8-bit RGB GeoTIFF
        SN1_buildings/train/geojson/Geo_AOI_1_RIO_img<n>.geojson  building footprints
        """,
    )
    #: The paper's tile counts: train, validation, total.
    paper_split: tuple[int, int, int] = (4999, 1000, 6940)

    def __init__(self, root: str = 'data', input_size: int | None = 224, **kwargs: Any) -> None:
        """Args: see :class:`DownstreamDataModule`; ``input_size`` defaults to the paper's 224."""
        super().__init__(root=root, input_size=input_size, **kwargs)

    def build_dataset(self, split: Split, transforms: Callable) -> Dataset:
        """The ``split`` part of SpaceNet 1's labelled tiles."""
        folder = Path(self.root, SpaceNet1.dataset_id, 'train')
        counts = {
            name: len(list((folder / name).glob(glob)))
            for name, glob in (('3band', '*.tif'), ('geojson', '*.geojson'))
        }
        if not all(counts.values()):
            raise self.layout.error(self.root, f'file counts {counts} in {folder}')
        dataset = SpaceNet1(root=self.root, split='train', image='3band', transforms=transforms)
        return Subset(dataset, self._split_ranges(len(dataset))[split])

    def _split_ranges(self, count: int) -> dict[str, range]:
        if count < 3:
            raise ValueError(f'SpaceNet 1 has {count} tiles, too few for train/val/test parts.')
        train, val, total = self.paper_split
        # The paper's proportions, each part keeping at least one tile (4 tiles: 2 / 1 / 1).
        n_train = min(max(1, round(count * train / total)), count - 2)
        n_val = min(max(1, round(count * val / total)), count - n_train - 1)
        return {
            'train': range(n_train),
            'val': range(n_train, n_train + n_val),
            'test': range(n_train + n_val, count),
        }

    def _low_data(self, dataset: Dataset) -> Dataset:
        """The first tiles of the training part, as the paper's low-data run."""
        count = len(dataset)  # type: ignore[arg-type]
        return Subset(dataset, range(max(1, int(self.train_fraction * count))))


class Sen1Floods11DataModule(DownstreamDataModule):
    """Sen1Floods11 hand-labelled chips, Sentinel-2 (13 L1C bands), water vs not water.

    Official train / valid / test CSV splits; input 512 (the chip size). No-data labels (-1) become
    ``ignore_index`` 255. (The authors' code shifts labels to a 3-class map and ignores class 0;
    this is the same metric with 2 classes.) Statistics are computed on the training split. Layout:
    see :class:`~dtcd.data.segmentation_datasets.Sen1Floods11`.
    """

    task = 'segmentation'
    dataset_bands = Sen1Floods11.all_band_names
    classes = Sen1Floods11.classes
    ignore_index = Sen1Floods11.ignore_index
    layout = DatasetLayout(
        'Sen1Floods11',
        'gs://sen1floods11 (https://github.com/cloudtostreet/Sen1Floods11)',
        """
        v1.1/data/flood_events/HandLabeled/S2Hand/<Country>_<id>_S2Hand.tif        13 bands
        v1.1/data/flood_events/HandLabeled/LabelHand/<Country>_<id>_LabelHand.tif  -1/0/1
        v1.1/splits/flood_handlabeled/flood_{train,valid,test}_data.csv
        """,
    )

    def __init__(self, root: str = 'data', input_size: int | None = 512, **kwargs: Any) -> None:
        """Args: see :class:`DownstreamDataModule`; ``input_size`` defaults to the paper's 512."""
        super().__init__(root=root, input_size=input_size, **kwargs)

    def build_dataset(self, split: Split, transforms: Callable) -> Dataset:
        """The official ``split`` CSV."""
        csv = Sen1Floods11.split_dir / f'flood_{Sen1Floods11.splits[split]}_data.csv'
        self.layout.require(self.root, [str(csv)])
        return Sen1Floods11(root=self.root, split=split, transforms=transforms)


class TemporalMedian:
    """Sample transform: ``image`` ``[T, C, H, W]`` → its per-pixel median over time ``[C, H, W]``.

    NumPy's median (mean of the two middle values for even ``T``); NaN where every date is NaN.
    """

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        series = sample['image'].float().numpy()
        sample['image'] = torch.from_numpy(np.nanmedian(series, axis=0).astype(np.float32))
        return sample


class PASTISDataModule(DownstreamDataModule):
    """PASTIS semantic segmentation on the Sentinel-2 temporal median (``s2-median``), 128 px.

    Each sample's S2 series ``[T, 10, H, W]`` is reduced to its per-pixel median before band
    reindexing. 20 classes as in TorchGeo's ``PASTIS`` (0 background … 18 sorghum, 19 void); the
    void label (parcels mostly outside their patch) is ``ignore_index``. Folds 1–3 train, 4
    validation, 5 test by default. Statistics are computed on the training split.
    """

    task = 'segmentation'
    dataset_bands = PASTIS_S2
    classes = tuple(PASTIS.classes)
    ignore_index = 19
    layout = DatasetLayout(
        'PASTIS',
        'https://zenodo.org/records/5735646 (PASTIS-R.zip; TorchGeo reads its PASTIS-R/ folder)',
        """
        PASTIS-R/metadata.geojson                one feature per patch: ID_PATCH, Fold (1-5)
        PASTIS-R/DATA_S2/S2_<ID_PATCH>.npy       int16 [T, 10, 128, 128]
        PASTIS-R/ANNOTATIONS/TARGET_<ID_PATCH>.npy  [3, 128, 128]; channel 0 = class
        (or only PASTIS-R.zip, which TorchGeo extracts)
        """,
        archives={PASTIS.directory: PASTIS.filename},
    )

    def __init__(
        self,
        root: str = 'data',
        input_size: int | None = 128,
        train_folds: Sequence[int] = (1, 2, 3),
        val_folds: Sequence[int] = (4,),
        test_folds: Sequence[int] = (5,),
        **kwargs: Any,
    ) -> None:
        """Args: see :class:`DownstreamDataModule`, plus the PASTIS folds (1–5) of each split."""
        super().__init__(root=root, input_size=input_size, **kwargs)
        self.folds = {
            'train': tuple(train_folds),
            'val': tuple(val_folds),
            'test': tuple(test_folds),
        }

    def build_dataset(self, split: Split, transforms: Callable) -> Dataset:
        """The patches of ``split``'s folds, as temporal medians."""
        folder = PASTIS.directory
        self.layout.require(
            self.root, [f'{folder}/metadata.geojson', f'{folder}/DATA_S2', f'{folder}/ANNOTATIONS']
        )
        return PASTIS(
            root=self.root,
            folds=self.folds[split],
            bands='s2',
            mode='semantic',
            transforms=Compose([TemporalMedian(), transforms]),
        )
