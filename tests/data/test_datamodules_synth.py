"""The SynthEO DataModules the probes use offline: segmentation, OSCD layout, EuroSAT layout."""

from pathlib import Path

import pytest
import torch

from dtcd.bands import DEO10
from dtcd.data import LAND_COVER_CLASSES
from dtcd.data.datamodules import (
    DatasetLayoutError,
    EuroSATDataModule,
    OSCDDataModule,
    SynthEOSegmentationDataModule,
)
from tests.data.batch_checker import fit


def test_segmentation_batches(synth_root: Path) -> None:
    dm = SynthEOSegmentationDataModule(str(synth_root / 'segmentation'), 'deo10', 32, batch_size=4)
    dm.setup('fit')
    assert dm.task == 'segmentation' and dm.classes == LAND_COVER_CLASSES
    assert dm.ignore_index is None and dm.bands == DEO10
    assert [len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset)] == [14, 5, 5]
    batch = dm.train_aug(next(iter(dm.train_dataloader())))
    assert batch['image'].shape == (4, 10, 32, 32) and batch['image'].dtype == torch.float32
    assert batch['mask'].shape == (4, 32, 32) and batch['mask'].dtype == torch.int64
    assert batch['mask'].max() < len(LAND_COVER_CLASSES)
    # statistics come from the training split: standardised training images
    image = dm.aug(next(iter(dm.train_dataloader())))['image']
    assert image.mean().abs() < 0.5 and 0.5 < image.std() < 1.5


def test_oscd_on_syntheo(synth_root: Path) -> None:
    dm = OSCDDataModule(str(synth_root / 'oscd'), 'deo10', input_size=64, batch_size=1)
    dm.setup('fit')
    assert [len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset)] == [1, 1, 1]
    train = dm.train_aug(next(iter(dm.train_dataloader())))
    assert train['image'].shape == (1, 2, 10, 64, 64) and train['mask'].shape == (1, 1, 64, 64)
    val = dm.aug(next(iter(dm.val_dataloader())))
    assert val['image'].shape == (1, 2, 10, 96, 96)  # whole region, native size
    assert set(val['mask'].unique().tolist()) <= {0, 1} and val['mask'].dtype == torch.int64


@pytest.mark.parametrize('name', ['syntheo_segmentation', 'syntheo_oscd', 'syntheo_eurosat'])
def test_fit_through_cli(name: str, synth_root: Path, tmp_path: Path) -> None:
    folder = name.removeprefix('syntheo_')
    seen = fit(name, synth_root / folder, tmp_path)
    assert [s['stage'] for s in seen] == ['train', 'val']
    assert all(s['bands'] == DEO10 for s in seen)


def test_missing_root_names_layout_and_source(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match=r"(?s)missing 'train/images'.*dtcd synth"):
        SynthEOSegmentationDataModule(str(tmp_path)).setup('fit')
    with pytest.raises(DatasetLayoutError, match=r'(?s)eurosat-train\.txt.*phelber/EuroSAT'):
        EuroSATDataModule(str(tmp_path)).setup('fit')
