"""GEO-Bench reader and DataModule on tiny tasks written in GEO-Bench's on-disk format."""

import io
import pickle
from pathlib import Path

import pytest
import torch

from dtcd.bands import DEO10, RGB, MissingBandError
from dtcd.data.datamodules.geobench import GeoBenchDataModule
from dtcd.data.datamodules.layout import DatasetLayoutError
from dtcd.data.geobench import GeoBench, RestrictedUnpickler, geobench_band_to_s2
from tests.data.fake import geobench as fake

CALLS: list[str] = []


def _record(what: str) -> str:
    CALLS.append(what)
    return what


class _Exploit:
    def __reduce__(self) -> tuple:
        return _record, ('called',)


@pytest.fixture(scope='module')
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake.write(tmp_path_factory.mktemp('geobench'))


def codes(names: list[str], offset: float) -> list[float]:
    return [fake.band_code(n) + offset for n in names]


@pytest.mark.parametrize(
    ('name', 'expected'),
    [
        ('01 - Coastal aerosol', 'B01'),
        ('02 - Blue', 'B02'),
        ('08 - NIR', 'B08'),
        ('08A - Vegetation Red Edge', 'B8A'),
        ('10 - SWIR - Cirrus', 'B10'),
        ('12 - SWIR', 'B12'),
        ('B8A', 'B8A'),
        ('Red', 'B04'),
        ('Green', 'B03'),
        ('Blue', 'B02'),
        ('NearInfrared', 'B08'),
        ('01 - VH.Real', None),  # m-so2sat's Sentinel-1 channels are numbered too
        ('04 - VV.Imaginary', None),
        ('08 - VV.LEE Filtered.Imaginary', None),
        ('CLOUD_PROBABILITY', None),
        ('label', None),
    ],
)
def test_band_names_map_to_sentinel2(name: str, expected: str | None) -> None:
    assert geobench_band_to_s2(name) == expected


def test_restricted_unpickler_calls_nothing_foreign() -> None:
    payload = pickle.dumps({'label': 3, 'evil': _Exploit()})
    loaded = RestrictedUnpickler(io.BytesIO(payload)).load()
    assert loaded['label'] == 3 and CALLS == []
    assert type(loaded['evil']).__name__ == '_record'  # an inert placeholder, never called


def test_multiclass_task_reads_labels_bands_and_partitions(root: Path) -> None:
    ds = GeoBench(root, 'm-eurosat', 'train')
    assert [len(GeoBench(root, 'm-eurosat', s)) for s in ('train', 'val', 'test')] == [10, 2, 2]
    assert len(GeoBench(root, 'm-eurosat', 'train', '0.10x_train')) == 1
    sample = ds[3]
    assert sample['image'].shape == (13, 16, 16) and sample['image'].dtype == torch.float32
    assert sample['image'][:, 0, 0].tolist() == codes(list(fake.S2_NAMES), 3)
    assert ds.bands == fake.S2_DTCD
    assert sample['label'].dtype == torch.int64 and sample['label'].ndim == 0
    assert [ds[i]['label'].item() for i in range(4)] == [0, 1, 2, 3]


def test_multiclass_datamodule(root: Path) -> None:
    dm = GeoBenchDataModule(root=str(root), task='m-eurosat', bands='deo10', batch_size=2)
    assert (dm.task, dm.num_classes, dm.input_size) == ('multiclass', 10, 64)
    dm.setup('fit')
    names = [fake.S2_NAMES[fake.S2_DTCD.index(b)] for b in DEO10]
    assert dm.mean.tolist() == codes(names, 0)  # band_stats.json, reordered by name
    batch = next(iter(dm.train_dataloader()))
    out = dm.train_aug(batch)
    assert out['image'].shape == (2, 10, 64, 64) and out['label'].shape == (2,)
    assert out['label'].dtype == torch.int64


def test_tasks_keep_their_own_kind_and_classes(root: Path) -> None:
    ben = GeoBenchDataModule(root=str(root), task='m-bigearthnet', batch_size=2)
    sat = GeoBenchDataModule(root=str(root), task='m-so2sat', batch_size=2)
    seg = GeoBenchDataModule(root=str(root), task='m-SA-crop-type', batch_size=2)
    assert [(d.task, d.num_classes, d.input_size) for d in (ben, sat, seg)] == [
        ('multilabel', 43, 120),
        ('multiclass', 17, 32),
        ('segmentation', 10, 256),
    ]
    assert GeoBenchDataModule.task == 'multiclass' and GeoBenchDataModule.classes == ()
    assert 'B10' not in ben.dataset_bands and seg.ignore_index is None
    assert sat.dataset_bands == tuple(b for b in fake.S2_DTCD if b not in ('B01', 'B09', 'B10'))
    ben.setup('fit')
    out = ben.train_aug(next(iter(ben.train_dataloader())))
    assert out['image'].shape == (2, 12, 120, 120)
    assert out['label'].shape == (2, 43) and out['label'].dtype == torch.float32
    assert out['label'].sum(dim=1).tolist() == [2.0, 2.0]


def test_segmentation_task_and_low_data_partition(root: Path) -> None:
    dm = GeoBenchDataModule(
        root=str(root), task='m-SA-crop-type', partition='0.10x_train', bands='deo10', batch_size=1
    )
    dm.setup('fit')
    assert [len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset)] == [1, 2, 2]
    sample = dm.val_dataset[0]
    assert sample['mask'].shape == (16, 16) and sample['mask'].dtype == torch.int64
    assert sample['mask'].max() < 10
    out = dm.train_aug(next(iter(dm.train_dataloader())))
    assert out['image'].shape == (1, 10, 256, 256)
    assert out['mask'].shape == (1, 256, 256) and out['mask'].dtype == torch.int64


def test_aerial_rgb_task_names_its_channels(root: Path) -> None:
    dm = GeoBenchDataModule(root=str(root), task='m-pv4ger-seg', input_size=8, batch_size=2)
    assert dm.dataset_bands == RGB and dm.input_size == 8
    ds = dm.build_dataset('test', dm.reindex)
    assert ds[0]['image'][:, 0, 0].tolist() == codes(['Red', 'Green', 'Blue'], 12)
    with pytest.raises(MissingBandError, match='B05'):
        GeoBenchDataModule(root=str(root), task='m-pv4ger-seg', bands='deo10')


def test_errors_say_what_was_found(root: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r'segmentation_v1\.0/m-nz-cattle.*hdf5'):
        GeoBench(root, 'm-nz-cattle')
    with pytest.raises(FileNotFoundError, match='does not exist'):
        GeoBench(tmp_path / 'absent', 'm-eurosat')
    with pytest.raises(DatasetLayoutError, match=r'classification_v1\.0/m-eurosat'):
        GeoBenchDataModule(root=str(tmp_path / 'absent'), task='m-eurosat')
    with pytest.raises(FileNotFoundError, match=r"\['0\.10x_train', 'default'\]"):
        GeoBench(root, 'm-eurosat', partition='0.01x_train')
    with pytest.raises(ValueError, match='m-eurosat'):
        GeoBench(root, 'm-unknown')
    task = fake.write_task(tmp_path, 'm-eurosat')
    (task / 'valid_001.hdf5').unlink()
    with pytest.raises(FileNotFoundError, match='valid_001'):
        GeoBench(task, 'm-eurosat', 'val')
