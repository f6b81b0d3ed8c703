"""Dataset facts agree with TorchGeo; the one seeded splitter; loader options declared once."""

import pytest
import torch
from torch.utils.data import TensorDataset, random_split

from dtcd.data.datamodules import (
    HDF5PretrainDataModule,
    OSCDDataModule,
    PairedPretrainDataModule,
    SpaceNet1DataModule,
)
from dtcd.data.datamodules.base import holdout_size, seeded_split
from dtcd.data.geobench import GEOBENCH_TASKS
from dtcd.data.specs import EUROSAT_CLASSES, OSCD_FOLDERS, OSCD_IMAGES, oscd_labels


def test_oscd_folders_are_torchgeos() -> None:
    assert {OSCD_IMAGES, oscd_labels('train'), oscd_labels('test')} == set(OSCD_FOLDERS)


def test_eurosat_classes_written_once() -> None:
    assert EUROSAT_CLASSES == tuple(sorted(EUROSAT_CLASSES))
    assert GEOBENCH_TASKS['m-eurosat'].classes is EUROSAT_CLASSES


def test_seeded_split_unsorted_is_random_split() -> None:
    dataset = TensorDataset(torch.arange(37))
    for seed in (0, 5):
        ours = seeded_split(dataset, [30, 7], seed, sort=False)
        theirs = random_split(dataset, [30, 7], generator=torch.Generator().manual_seed(seed))
        assert [p.indices for p in ours] == [p.indices for p in theirs]
    val, train = seeded_split(dataset, [7, 30], 0)
    assert val.indices == sorted(val.indices) and not set(val.indices) & set(train.indices)
    assert len(seeded_split(dataset, [4], 0)[0]) == 4


def test_holdout_size_keeps_one_on_each_side() -> None:
    assert [holdout_size(n, 0.5) for n in (2, 3, 10)] == [1, 2, 5]
    assert holdout_size(10, 0.0) == 1 and holdout_size(10, 0.999) == 9
    with pytest.raises(ValueError, match='Cannot split 1 item'):
        holdout_size(1, 0.5)


@pytest.mark.parametrize(
    'cls', [OSCDDataModule, SpaceNet1DataModule, PairedPretrainDataModule, HDF5PretrainDataModule]
)
def test_loader_options_pass_through_and_typos_fail(cls: type) -> None:
    dm = cls(batch_size=2, num_workers=3, pin_memory=True, prefetch_factor=5)
    assert (dm.batch_size, dm.num_workers, dm.pin_memory, dm.prefetch_factor) == (2, 3, True, 5)
    with pytest.raises(TypeError, match='batch_sise'):
        cls(batch_sise=2)
