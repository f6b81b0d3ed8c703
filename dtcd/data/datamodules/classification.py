"""Scene-classification DataModules (PAPER.md §3.3) on TorchGeo dataset classes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from torch.utils.data import Dataset
from torchgeo.datamodules import So2SatDataModule as TorchGeoSo2SatDataModule
from torchgeo.datasets import BigEarthNet, EuroSAT, So2Sat
from torchvision.transforms import Compose

from dtcd.bands import EUROSAT13, S2_L2A_12, SENTINEL2_DN, BandStats
from dtcd.data.datamodules.base import check_val_fraction
from dtcd.data.datamodules.downstream import DownstreamDataModule, split_off
from dtcd.data.datamodules.layout import DatasetLayout
from dtcd.data.specs import EUROSAT_BASE_DIR, EUROSAT_CLASSES


class EuroSATDataModule(DownstreamDataModule):
    """EuroSAT (13-band Sentinel-2, 64 px, 10 classes) through ``torchgeo.datasets.EuroSAT``.

    Also reads SynthEO's ``eurosat/`` folder, which uses the same layout. EuroSAT stores B8A
    last; bands are reindexed by name. Normalised with TorchGeo's EuroSAT statistics.
    """

    task = 'multiclass'
    dataset_bands = EUROSAT13
    classes = EUROSAT_CLASSES
    stats = SENTINEL2_DN
    layout = DatasetLayout(
        'EuroSAT',
        "https://github.com/phelber/EuroSAT (EuroSATallBands.zip) with TorchGeo's split lists "
        'https://hf.co/datasets/torchgeo/eurosat',
        f"""
        eurosat-{{train,val,test}}.txt                  file names, one per line
        {EUROSAT_BASE_DIR.as_posix()}/<Class>/<Class>_<n>.tif   13 bands, B8A last
        (or {EuroSAT.filename}, which TorchGeo extracts)
        """,
        archives={EUROSAT_BASE_DIR.as_posix(): EuroSAT.filename},
    )

    def build_dataset(
        self, split: Literal['train', 'val', 'test'], transforms: Callable
    ) -> Dataset:
        """The TorchGeo EuroSAT split (no download: data must be under ``root``)."""
        self.layout.require(self.root, [f'eurosat-{split}.txt', EUROSAT_BASE_DIR.as_posix()])
        with self.layout.explain(self.root):
            return EuroSAT(root=self.root, split=split, bands=EUROSAT13, transforms=transforms)


#: BigEarthNet-S2 statistics in digital numbers, from the dataset authors (TU Berlin,
#: ``bigearthnet-models-tf/BigEarthNet.py``; TorchGeo's SeasonalContrastS2DataModule uses the
#: same means). TorchGeo's BigEarthNetDataModule min/max scaling is not a standardisation.
BIGEARTHNET_STATS = BandStats(
    mean={
        'B01': 340.76769064,
        'B02': 429.9430203,
        'B03': 614.21682446,
        'B04': 590.23569706,
        'B05': 950.68368468,
        'B06': 1792.46290469,
        'B07': 2075.46795189,
        'B08': 2218.94553375,
        'B8A': 2266.46036911,
        'B09': 2246.0605464,
        'B11': 1594.42694882,
        'B12': 1009.32729131,
    },
    std={
        'B01': 554.81258967,
        'B02': 572.41639287,
        'B03': 582.87945694,
        'B04': 675.88746967,
        'B05': 729.89827633,
        'B06': 1096.01480586,
        'B07': 1273.45393088,
        'B08': 1365.45589904,
        'B8A': 1356.13789355,
        'B09': 1302.3292881,
        'B11': 1079.19066363,
        'B12': 818.86747235,
    },
)


class _FloatLabel:
    """Sample transform: multi-hot labels as float32, as BCE losses and the contract want."""

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        sample['label'] = sample['label'].float()
        return sample


class BigEarthNetDataModule(DownstreamDataModule):
    """BigEarthNet v1 Sentinel-2 (12 L2A bands at 120 px, multi-label) via TorchGeo.

    TorchGeo resamples the 20 m and 60 m band files bilinearly to 120 px. Training adds random
    90° rotations to the flips (PAPER.md §3.3). Labels are float32 multi-hot over 43 classes
    (the paper's GB-ben) or the 19-class nomenclature.

    Args:
        root: Folder holding ``BigEarthNet-v1.0/`` and the split CSVs.
        bands: Band order of the batches (``None``: BigEarthNet's 12 bands).
        input_size: Side of training crops and resized evaluation images (120: native).
        train_fraction: Share of the training patches to use (10 % in PAPER.md Table 7), seeded.
        seed: Seed of the low-data subset.
        num_classes: 43 (original CORINE labels) or 19 (the BigEarthNet-19 nomenclature).
        **kwargs: The loader options of :class:`~dtcd.data.datamodules.base.DTCDDataModule`.
    """

    task = 'multilabel'
    dataset_bands = S2_L2A_12
    stats = BIGEARTHNET_STATS
    rotate90 = True
    layout = DatasetLayout(
        'BigEarthNet v1 (Sentinel-2)',
        'https://zenodo.org/records/12687186 (BigEarthNet-S2-v1.0.tar.gz) and the split CSVs of '
        'https://git.tu-berlin.de/rsim/BigEarthNet-MM_19-classes_models (splits/*.csv)',
        """
        bigearthnet-{train,val,test}.csv       lines '<S2 patch>,<S1 patch>'
        BigEarthNet-v1.0/<S2 patch>/<S2 patch>_B01.tif ... _B12.tif   one GeoTIFF per band
        BigEarthNet-v1.0/<S2 patch>/<S2 patch>_labels_metadata.json   {"labels": [...], ...}
        (or BigEarthNet-S2-v1.0.tar.gz, which TorchGeo extracts)
        """,
        archives={BigEarthNet.metadata['s2']['directory']: BigEarthNet.metadata['s2']['filename']},
    )

    def __init__(
        self,
        root: str = 'data/bigearthnet',
        bands: str | Sequence[str] | None = None,
        input_size: int | None = 120,
        train_fraction: float = 1.0,
        seed: int = 0,
        num_classes: Literal[19, 43] = 43,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, bands, input_size, train_fraction, seed, **kwargs)
        if num_classes not in BigEarthNet.class_sets:
            raise ValueError(f'num_classes must be 19 or 43, got {num_classes}.')
        self.classes = tuple(BigEarthNet.class_sets[num_classes])

    def build_dataset(
        self, split: Literal['train', 'val', 'test'], transforms: Callable
    ) -> Dataset:
        """TorchGeo's BigEarthNet split, Sentinel-2 part only."""
        directory = BigEarthNet.metadata['s2']['directory']
        self.layout.require(self.root, [f'bigearthnet-{split}.csv', directory])
        with self.layout.explain(self.root):
            return BigEarthNet(
                self.root,
                split,
                bands='s2',
                num_classes=self.num_classes,
                transforms=Compose([transforms, _FloatLabel()]),
            )


#: So2Sat's Sentinel-2 bands, in the file's channel order.
SO2SAT_S2: tuple[str, ...] = ('B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B11', 'B12')


def so2sat_stats(version: str) -> BandStats:
    """TorchGeo's So2Sat statistics of one dataset version, Sentinel-2 part (reflectance).

    Taken from ``torchgeo.datamodules.So2SatDataModule.{means,stds}_per_version``, whose last
    ten entries are the Sentinel-2 bands in :data:`SO2SAT_S2` order.
    """
    mean = TorchGeoSo2SatDataModule.means_per_version[version][-len(SO2SAT_S2) :]
    std = TorchGeoSo2SatDataModule.stds_per_version[version][-len(SO2SAT_S2) :]
    return BandStats.from_lists(SO2SAT_S2, mean.tolist(), std.tolist())


class So2SatDataModule(DownstreamDataModule):
    """So2Sat LCZ42 (32 px, 17 local climate zones), Sentinel-2 part only, via TorchGeo.

    TorchGeo concatenates the 8 Sentinel-1 channels with the 10 Sentinel-2 ones unless bands
    are selected; dtcd selects only the Sentinel-2 bands (PAPER.md: S1 dropped). Values are
    reflectance (not digital numbers), normalised with TorchGeo's statistics of the chosen
    version. Version 2 has train/validation/test files; version 3 only train and test, so
    validation is a seeded ``val_fraction`` of train (as in TorchGeo).

    Args:
        root: Folder holding the HDF5 files.
        bands: Band order of the batches (``None``: So2Sat's 10 Sentinel-2 bands).
        input_size: Side of training crops and resized evaluation images (32: native).
        train_fraction: Share of the training patches to use, seeded.
        seed: Seed of the low-data subset.
        version: ``'2'`` or one of the version 3 splits (``'3_random'``, ``'3_block'``,
            ``'3_culture_10'``).
        val_fraction: Share of train held out for validation (version 3 only).
        **kwargs: The loader options of :class:`~dtcd.data.datamodules.base.DTCDDataModule`.
    """

    task = 'multiclass'
    dataset_bands = SO2SAT_S2
    classes = So2Sat.classes
    layout = DatasetLayout(
        'So2Sat LCZ42',
        'https://mediatum.ub.tum.de/1454690 (version 2) or https://mediatum.ub.tum.de/1613658 '
        '(version 3)',
        """
        training.h5, validation.h5, testing.h5                     (version 2)
        {random,block,culture_10}/{training,testing}.h5            (version 3)
        each with datasets sen1 [N,32,32,8], sen2 [N,32,32,10], label [N,17] one-hot
        """,
    )

    def __init__(
        self,
        root: str = 'data/so2sat',
        bands: str | Sequence[str] | None = None,
        input_size: int | None = 32,
        train_fraction: float = 1.0,
        seed: int = 0,
        version: Literal['2', '3_random', '3_block', '3_culture_10'] = '2',
        val_fraction: float = 0.2,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, bands, input_size, train_fraction, seed, **kwargs)
        if version not in So2Sat.versions:
            raise ValueError(f'version must be one of {So2Sat.versions}, got {version!r}.')
        check_val_fraction(val_fraction)
        self.version, self.val_fraction = version, val_fraction
        self.stats = so2sat_stats(version)

    def build_dataset(
        self, split: Literal['train', 'val', 'test'], transforms: Callable
    ) -> Dataset:
        """TorchGeo's So2Sat file of ``split`` (v3: ``'val'`` is split off ``'train'``)."""
        files = So2Sat.filenames_by_version[self.version]
        source = {'val': 'validation' if 'validation' in files else 'train'}.get(split, split)
        self.layout.require(self.root, [files[source]])
        with self.layout.explain(self.root):
            dataset = So2Sat(
                self.root,
                self.version,
                source,
                bands=[f'S2_{b}' for b in SO2SAT_S2],
                transforms=transforms,
            )
        if source == 'train' and 'validation' not in files:
            return split_off(dataset, self.val_fraction, 'val' if split == 'val' else 'train')
        return dataset
