"""SynthEOSegmentation and PairedMSRGB on SynthEO's tiny preset."""

import csv
import shutil
from pathlib import Path

import pytest
import rasterio
import torch
from torchgeo.datasets import DatasetNotFoundError

from dtcd.bands import DEO10, RGB, S2_L1C_13, reindex
from dtcd.data import LAND_COVER_CLASSES, PairedMSRGB, SynthEOSegmentation


def raw(path: Path) -> torch.Tensor:
    with rasterio.open(path) as src:
        return torch.from_numpy(src.read().astype('float32'))


def test_segmentation_sample(synth_root: Path) -> None:
    root = synth_root / 'segmentation'
    assert [len(SynthEOSegmentation(root, s)) for s in ('train', 'val', 'test')] == [14, 5, 5]
    ds = SynthEOSegmentation(root, 'val')
    sample = ds[0]
    assert sample['image'].shape == (13, 64, 64) and sample['image'].dtype == torch.float32
    assert sample['mask'].shape == (64, 64) and sample['mask'].dtype == torch.int64
    masks = torch.stack([ds[i]['mask'] for i in range(len(ds))])
    assert 0 <= masks.min() and masks.max() < len(LAND_COVER_CLASSES)
    assert len(masks.unique()) >= 3


def test_segmentation_reorders_bands_by_name(synth_root: Path) -> None:
    root = synth_root / 'segmentation'
    ds = SynthEOSegmentation(root, 'train', bands=('B8A', 'B02', 'B12'))
    file = raw(sorted((root / 'train' / 'images').glob('*.tif'))[0])
    expected = file[[S2_L1C_13.index(b) for b in ('B8A', 'B02', 'B12')]]
    assert torch.equal(ds[0]['image'], expected)


def test_missing_root_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / 'nowhere'
    with pytest.raises(DatasetNotFoundError, match='nowhere'):
        SynthEOSegmentation(missing)
    with pytest.raises(DatasetNotFoundError, match='nowhere'):
        PairedMSRGB(missing)


def test_unknown_band_is_rejected(synth_root: Path) -> None:
    with pytest.raises(ValueError, match='B13'):
        SynthEOSegmentation(synth_root / 'segmentation', bands=('B04', 'B13'))


def test_paired_s2_mode_is_the_file_in_deo_order(synth_root: Path) -> None:
    root = synth_root / 'pretrain'
    ds = PairedMSRGB(root, rgb_mode='s2')
    assert len(ds) == 32
    sample = ds[0]
    assert set(sample) == {'image'}
    assert torch.equal(sample['image'], reindex(raw(root / 'ms' / '000000.tif'), S2_L1C_13, DEO10))


def test_paired_hr_mode_replaces_rgb_with_downsampled_hr(synth_root: Path) -> None:
    root = synth_root / 'pretrain'
    s2 = PairedMSRGB(root, rgb_mode='s2')[1]['image']
    hr = PairedMSRGB(root, rgb_mode='hr', return_hr=True)[1]
    image, rgb_hr = hr['image'], hr['rgb_hr']
    assert image.shape == (10, 64, 64) and image.dtype == torch.float32
    assert rgb_hr.shape == (3, 256, 256) and rgb_hr.dtype == torch.float32
    # Only R, G, B (DEO10's first three channels) change ...
    assert torch.equal(image[3:], s2[3:])
    assert not torch.equal(image[:3], s2[:3])
    # ... to the HR image averaged over 4 x 4 blocks, which agrees with Sentinel-2's RGB.
    pooled = torch.nn.functional.avg_pool2d(rgb_hr[None], 4)[0]
    assert torch.allclose(image[:3], pooled, atol=1e-2)
    relative = (image[:3] - s2[:3]).abs().mean() / s2[:3].mean()
    assert relative < 0.05


def test_paired_rgb_only_and_missing_hr(synth_root: Path, tmp_path: Path) -> None:
    root = tmp_path / 'pretrain'
    shutil.copytree(synth_root / 'pretrain', root)
    with open(root / 'index.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    rows[0]['rgb'] = ''  # no HR image for this tile: Sentinel-2's own RGB is kept
    with open(root / 'index.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=['id', 'ms', 'rgb'])
        writer.writeheader()
        writer.writerows(rows)
    ds = PairedMSRGB(root, bands=RGB)
    assert torch.equal(ds[0]['image'], reindex(raw(root / rows[0]['ms']), S2_L1C_13, RGB))
    assert ds[1]['image'].shape == (3, 64, 64)
