"""SynthEO: real on-disk layouts, determinism, and a multispectral signal RGB cannot see."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchgeo.datasets import OSCD, EuroSAT

from dtcd.bands import RGB, S2_BANDS
from dtcd.data.specs import EUROSAT_CLASSES
from dtcd.data.synthetic import (
    MATERIALS,
    RGB_TWINS,
    Preset,
    generate,
)

MICRO = Preset(
    eurosat_per_class=3,
    oscd_regions={'train': 1, 'test': 1},
    oscd_size=32,
    segmentation_tiles=3,
    segmentation_size=32,
    pretrain_tiles=2,
    pretrain_size=32,
)


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob('*'))
        if p.is_file()
    }


def test_cli_writes_four_datasets(synth_root: Path) -> None:
    assert sorted(p.name for p in synth_root.iterdir()) == [
        'eurosat',
        'oscd',
        'pretrain',
        'segmentation',
    ]


def test_summary_names_every_dataset(tmp_path: Path) -> None:
    text = generate(tmp_path, preset=MICRO, seed=1).format()
    for name in ('eurosat', 'oscd', 'segmentation', 'pretrain', 'AnnualCrop', 'train 1'):
        assert name in text


def test_eurosat_loads_with_torchgeo(synth_root: Path) -> None:
    sizes = {}
    for split in ('train', 'val', 'test'):
        ds = EuroSAT(root=synth_root / 'eurosat', split=split)
        sizes[split] = len(ds)
        assert tuple(ds.classes) == EUROSAT_CLASSES
        sample = ds[len(ds) - 1]
        assert sample['image'].shape == (13, 64, 64)
        assert sample['image'].dtype == torch.float32
        assert 0 <= int(sample['label']) < 10
    assert sizes == {'train': 120, 'val': 40, 'test': 40}


def test_eurosat_files_are_real_geotiffs(synth_root: Path) -> None:
    import rasterio

    path = next((synth_root / 'eurosat').rglob('Forest_1.tif'))
    with rasterio.open(path) as src:
        assert src.count == 13 and src.dtypes[0] == 'uint16'
        assert src.crs.to_epsg() == 32632 and src.res == (10.0, 10.0)
        image = src.read()
    # EuroSAT stores B8A last: forest is brighter in B8A (band 13) than in red B04 (band 4).
    assert image[12].mean() > 3 * image[3].mean()


def test_oscd_loads_with_torchgeo(synth_root: Path) -> None:
    for split, n in (('train', 2), ('test', 1)):
        ds = OSCD(root=synth_root / 'oscd', split=split)
        assert len(ds) == n
        sample = ds[0]
        image, mask = sample['image'], sample['mask']
        assert image.shape == (2, 13, 96, 96) and image.dtype == torch.float32
        assert mask.shape == (1, 96, 96) and mask.dtype == torch.long
        assert set(mask.unique().tolist()) == {0, 1}
        assert 0.005 < mask.float().mean() < 0.5
        # Unchanged pixels still differ between dates (illumination, haze, phenology).
        stable = (mask[0] == 0).expand(13, -1, -1)
        assert (image[0][stable] - image[1][stable]).abs().mean() > 20


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    for name, seed in (('a', 3), ('b', 3), ('c', 4)):
        generate(tmp_path / name, preset=MICRO, seed=seed)
    a, b, c = (digest(tmp_path / name) for name in 'abc')
    assert len(a) > 50
    assert a == b
    assert a.keys() == c.keys()
    data = [k for k in a if k.endswith(('.tif', '.png'))]
    assert all(a[k] != c[k] for k in data)


def test_rgb_twins_differ_only_beyond_the_visible() -> None:
    for first, second in RGB_TWINS:
        x, y = np.array(MATERIALS[first].reflectance), np.array(MATERIALS[second].reflectance)
        assert np.abs(x[1:4] - y[1:4]).max() == 0  # B02, B03, B04
        assert np.abs(x[4:] - y[4:]).max() >= 5  # percent: red edge, NIR or SWIR


def mean_spectra(
    root: Path, split: str, bands: tuple[str, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    ds = EuroSAT(root=root, split=split, bands=bands)
    samples = [ds[i] for i in range(len(ds))]
    x = torch.stack([s['image'].mean((1, 2)) for s in samples])
    return x, torch.stack([s['label'] for s in samples])


def linear_probe_accuracy(root: Path, bands: tuple[str, ...]) -> float:
    """Multinomial logistic regression on per-image mean spectra (train + val), test accuracy."""
    parts = [mean_spectra(root, split, bands) for split in ('train', 'val')]
    x = torch.cat([p[0] for p in parts])
    y = torch.cat([p[1] for p in parts])
    x_test, y_test = mean_spectra(root, 'test', bands)
    mean, std = x.mean(0), x.std(0)
    x, x_test = (x - mean) / std, (x_test - mean) / std
    weight = torch.zeros(x.shape[1], 10, requires_grad=True)
    bias = torch.zeros(10, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], max_iter=200, line_search_fn='strong_wolfe')

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(x @ weight + bias, y) + 1e-3 * weight.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    return (x_test @ weight + bias).argmax(1).eq(y_test).float().mean().item()


def test_multispectral_beats_rgb_and_mean_spectra_leave_room(synth_root: Path) -> None:
    """RGB twins keep MS ahead of RGB; spatial twins keep the mean spectrum far from the ceiling
    (SynthEO v2: it cannot separate three pairs of classes, so at most 7 of 10)."""
    root = synth_root / 'eurosat'
    all_bands = tuple(EuroSAT.all_band_names)
    assert set(all_bands) == set(S2_BANDS)
    ms = linear_probe_accuracy(root, all_bands)
    rgb = linear_probe_accuracy(root, RGB)
    print(f'mean-spectrum linear probe: 13 bands {ms:.3f}, RGB {rgb:.3f}')
    assert 0.4 <= ms <= 0.7  # measured 0.550 (v1: 0.80 on the demo preset)
    assert ms - rgb >= 0.1  # measured 0.125


@pytest.mark.parametrize(
    'pair',
    [('Pasture', 'HerbaceousVegetation'), ('Residential', 'Industrial'), ('River', 'SeaLake')],
)
def test_spatial_twins_share_their_mean_spectra(synth_root: Path, pair: tuple[str, str]) -> None:
    """Per band, the two classes' mean reflectances differ by less than their spread (demo
    preset, largest gap over bands: v2 0.19-0.37; v1 2.4-6.6)."""
    x, y = mean_spectra(synth_root / 'eurosat', 'train', tuple(EuroSAT.all_band_names))
    first, second = (x[y == EUROSAT_CLASSES.index(name)] for name in pair)
    spread = torch.cat([first - first.mean(0), second - second.mean(0)]).std(0)
    gap = (first.mean(0) - second.mean(0)).abs() / spread
    assert gap.max() < 1.0, gap
