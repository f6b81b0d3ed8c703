"""OSCD and LEVIR-CD DataModules on fake copies in the real on-disk layouts."""

import shutil
from pathlib import Path

import pytest
import torch

from dtcd.bands import RGB, MissingBandError
from dtcd.data.datamodules import DatasetLayoutError, LEVIRCDDataModule, OSCDDataModule
from tests.data.batch_checker import codes_arg, fit
from tests.data.fake import levircd, oscd
from tests.data.fake.codes import CODES


@pytest.fixture(scope='module')
def oscd_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return oscd.write(tmp_path_factory.mktemp('oscd'))


@pytest.fixture(scope='module')
def levir_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return levircd.write(tmp_path_factory.mktemp('levircd'))


def test_oscd_fit_crops_regions_of_different_sizes(oscd_root: Path, tmp_path: Path) -> None:
    seen = fit('oscd', oscd_root, tmp_path, *codes_arg(CODES))
    assert seen[0]['image'] == (2, 2, 10, 32, 32)  # two regions' crops collate
    assert seen[1]['image'][0] == 1  # evaluation: one whole region per batch


def test_oscd_val_is_a_seeded_share_of_train_regions(oscd_root: Path) -> None:
    dm = OSCDDataModule(str(oscd_root), input_size=32, val_fraction=0.4)
    dm.setup('fit')
    regions = {
        part: {dataset.dataset.files[i]['region'] for i in dataset.indices}
        for part, dataset in (('train', dm.train_dataset), ('val', dm.val_dataset))
    }
    assert len(regions['val']) == 2 and len(regions['train']) == 3
    assert regions['train'] | regions['val'] == set(oscd.REGIONS['train'])
    again = OSCDDataModule(str(oscd_root), input_size=32, val_fraction=0.4)
    again.setup('fit')
    assert {again.val_dataset.dataset.files[i]['region'] for i in again.val_dataset.indices} == (
        regions['val']
    )
    test = dm.test_dataset[0]  # whole test region
    assert test['image'].shape[-2:] == oscd.REGIONS['test']['brasilia']
    low = OSCDDataModule(str(oscd_root), input_size=32, train_fraction=0.34)
    low.setup('fit')
    assert len(low.train_dataset) == 1


def test_oscd_pads_small_regions_with_band_mean(oscd_root: Path) -> None:
    dm = OSCDDataModule(str(oscd_root), input_size=64, batch_size=2)
    dm.setup('fit')
    batch = dm.train_aug(next(iter(dm.train_dataloader())))
    assert batch['image'].shape == (2, 2, 13, 64, 64) and torch.isfinite(batch['image']).all()
    assert (batch['image'] == 0).any()  # NaN padding became 0, the band mean


def test_oscd_missing_and_incomplete_root(oscd_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='regions differ in size'):
        OSCDDataModule(str(oscd_root), input_size=None, batch_size=2)
    with pytest.raises(DatasetLayoutError, match=r'(?s)Train Labels.*rcdaudt'):
        OSCDDataModule(str(tmp_path)).setup('fit')
    broken = tmp_path / 'broken'
    shutil.copytree(oscd_root, broken)
    (broken / oscd.IMAGES / 'beirut' / 'imgs_2_rect' / 'B8A.tif').unlink()
    with pytest.raises(DatasetLayoutError, match='lacks band files'):
        OSCDDataModule(str(broken)).setup('fit')


def test_levircd_fit(levir_root: Path, tmp_path: Path) -> None:
    seen = fit('levircd', levir_root, tmp_path, *codes_arg(levircd.CODES))
    assert seen[0]['image'] == (2, 2, 3, 32, 32)
    assert seen[1]['image'] == (2, 2, 3, 64, 64)  # evaluation at native size
    assert seen[0]['bands'] == RGB


def test_levircd_stats_low_data_and_errors(levir_root: Path, tmp_path: Path) -> None:
    dm = LEVIRCDDataModule(str(levir_root), bands=['B02', 'B04'], train_fraction=0.5)
    dm.setup('fit')
    assert (len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset)) == (2, 2, 2)
    # no published statistics: computed on the training split, in B02, B04 order
    expected = torch.tensor([levircd.CODES['B02'], levircd.CODES['B04']]) + levircd.NOISE / 2
    assert torch.allclose(dm.mean, expected, atol=1.0)
    with pytest.raises(MissingBandError, match='B08'):
        LEVIRCDDataModule(str(levir_root), bands=['B04', 'B08'])
    with pytest.raises(DatasetLayoutError, match=r"(?s)missing 'A'.*justchenhao"):
        LEVIRCDDataModule(str(tmp_path)).setup('fit')
