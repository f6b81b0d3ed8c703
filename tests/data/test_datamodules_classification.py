"""BigEarthNet and So2Sat DataModules on fake copies in the real on-disk layouts."""

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torchgeo.datasets import BigEarthNet

from dtcd.bands import DEO10, S2_L2A_12, MissingBandError
from dtcd.data.datamodules import BigEarthNetDataModule, DatasetLayoutError, So2SatDataModule
from tests.data.batch_checker import codes_arg, fit
from tests.data.fake import bigearthnet, so2sat
from tests.data.fake.codes import CODES


@pytest.fixture(scope='module')
def ben_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bigearthnet.write(tmp_path_factory.mktemp('bigearthnet'))


@pytest.fixture(scope='module')
def so2sat_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return so2sat.write(tmp_path_factory.mktemp('so2sat'))


def test_bigearthnet_fit(ben_root: Path, tmp_path: Path) -> None:
    seen = fit('bigearthnet', ben_root, tmp_path, *codes_arg(CODES))
    assert [s['image'] for s in seen] == [(2, 10, 120, 120), (2, 10, 120, 120)]


@pytest.mark.parametrize('num_classes', [43, 19])
def test_bigearthnet_multi_hot_labels(ben_root: Path, num_classes: int) -> None:
    dm = BigEarthNetDataModule(str(ben_root), num_classes=num_classes, batch_size=2)
    dm.setup('fit')
    assert dm.task == 'multilabel' and dm.num_classes == num_classes
    assert dm.bands == S2_L2A_12 and dm.rotate90
    sample = dm.train_dataset[0]  # labels of patch 0: Mixed forest, Water bodies
    assert sample['image'].shape == (12, 120, 120)
    assert sample['label'].dtype == torch.float32 and sample['label'].shape == (num_classes,)
    names = BigEarthNet.class_sets[num_classes]
    on = {names[i] for i in sample['label'].nonzero().flatten().tolist()}
    assert on == ({'Mixed forest', 'Water bodies'} if num_classes == 43 else {
        'Mixed forest', 'Inland waters'
    })  # fmt: skip


def test_bigearthnet_low_data_and_errors(ben_root: Path, tmp_path: Path) -> None:
    dm = BigEarthNetDataModule(str(ben_root), train_fraction=0.5, batch_size=1)
    dm.setup('fit')
    assert len(dm.train_dataset) == 2 and len(dm.val_dataset) == 2  # 4 train patches, halved
    with pytest.raises(DatasetLayoutError, match=r'(?s)bigearthnet-train\.csv.*zenodo'):
        BigEarthNetDataModule(str(tmp_path)).setup('fit')


def test_so2sat_fit_selects_only_sentinel2(so2sat_root: Path, tmp_path: Path) -> None:
    seen = fit('so2sat', so2sat_root, tmp_path, *codes_arg(so2sat.REFLECTANCE_CODES))
    assert [s['image'] for s in seen] == [(4, 10, 32, 32), (3, 10, 32, 32)]


def test_so2sat_splits_nan_and_missing_band(so2sat_root: Path, tmp_path: Path) -> None:
    dm = So2SatDataModule(str(so2sat_root), bands='deo10', train_fraction=0.25, batch_size=2)
    dm.setup('fit')
    assert (len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset)) == (2, 3, 3)
    assert dm.num_classes == 17 and dm.bands == DEO10
    copy = tmp_path / 'so2sat'
    copy.mkdir()
    for name in so2sat.FILES:
        (copy / name).write_bytes((so2sat_root / name).read_bytes())
    with h5py.File(copy / 'validation.h5', 'r+') as f:
        sen2 = f['sen2'][...]
        sen2[:, :4, :4, :] = np.nan
        f['sen2'][...] = sen2
    dm = So2SatDataModule(str(copy), bands='deo10', batch_size=3)
    dm.setup('fit')
    image = dm.aug(next(iter(dm.val_dataloader())))['image']
    assert torch.isfinite(image).all() and (image[..., :4, :4] == 0).all()  # NaN -> band mean
    with pytest.raises(MissingBandError, match='B01'):
        So2SatDataModule(str(so2sat_root), bands=['B01', 'B02'])
    with pytest.raises(DatasetLayoutError, match=r'(?s)training\.h5.*mediatum'):
        So2SatDataModule(str(tmp_path / 'nowhere')).setup('fit')
