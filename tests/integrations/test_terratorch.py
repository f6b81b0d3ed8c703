"""dtcd students as TerraTorch backbones: built by TerraTorch's own registry and model factory,
stage maps equal to dtcd's loader, the band policy, and ``terratorch fit`` on GeoTIFF tiles."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
import yaml
from terratorch.datasets import HLSBands
from terratorch.models import EncoderDecoderFactory
from terratorch.registry import BACKBONE_REGISTRY

import dtcd.integrations.terratorch  # noqa: F401  (registers the dtcd backbones)
from dtcd.bands import DEO10
from dtcd.integrations import TERRATORCH_PLUGIN
from dtcd.integrations.terratorch import standardization
from dtcd.models import MultiStemSwin

ROOT = Path(__file__).parents[2]
#: HLS's six bands in TerraTorch's vocabulary: B02, B03, B04, B8A, B11, B12.
HLS6 = ['BLUE', 'GREEN', 'RED', 'NIR_NARROW', 'SWIR_1', 'SWIR_2']


def test_registry_builds_dtcd_swin_with_dtcds_stage_maps(demo_export: Path) -> None:
    reference = MultiStemSwin.from_pretrained(demo_export).eval()
    backbone = BACKBONE_REGISTRY.build(
        'dtcd_swin', pretrained=True, ckpt_path=str(demo_export), bands=DEO10
    ).eval()
    assert 'terratorch_dtcd_swin' in BACKBONE_REGISTRY  # TerraTorch's own source prefix
    x = torch.randn(2, len(DEO10), 64, 64)
    with torch.no_grad():
        expected = reference.forward_features(x, 'ms')
        maps = backbone(x)
    assert backbone.out_channels == reference.feature_dims == [m.shape[1] for m in maps]
    assert [(got - ours).abs().max().item() for got, ours in zip(maps, expected, strict=True)] == [
        0.0
    ] * 4
    assert list(backbone.backbone.stems) == ['ms']  # only the stem that runs is trained
    deep = BACKBONE_REGISTRY.build('dtcd_swin', ckpt_path=str(demo_export), out_indices=[2, 3])
    assert deep.out_channels == reference.feature_dims[2:]
    fresh = deep.backbone.stems['ms'].proj.weight
    assert not torch.equal(fresh, reference.stems['ms'].proj.weight)  # pretrained=False: random


def test_terratorch_band_names_choose_the_stem_and_reorder_its_kernels(demo_export: Path) -> None:
    reference = MultiStemSwin.from_pretrained(demo_export).eval()
    enums = [HLSBands.BLUE, HLSBands.GREEN, HLSBands.RED]
    rgb = BACKBONE_REGISTRY.build(
        'dtcd_swin', pretrained=True, ckpt_path=str(demo_export), model_bands=enums
    ).eval()
    assert rgb.stem == 'rgb' and rgb.bands == ('B02', 'B03', 'B04')
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        expected = reference.forward_features(x[:, [2, 1, 0]], 'rgb')  # the stem's R, G, B
        got = rgb(x)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(got, expected, strict=True))


def test_missing_bands_are_dropped_and_unseen_bands_start_at_zero(demo_export: Path) -> None:
    reference = MultiStemSwin.from_pretrained(demo_export).eval()
    bands = [*HLS6, 'COASTAL_AEROSOL']  # six of the ms stem's ten, and B01 it never saw
    with pytest.warns(UserWarning) as record:
        backbone = BACKBONE_REGISTRY.build(
            'dtcd_swin', pretrained=True, ckpt_path=str(demo_export), bands=bands
        ).eval()
    messages = [str(w.message) for w in record]
    assert any("lacks ['B05', 'B06', 'B07', 'B08']" in m for m in messages)
    assert any("never saw bands ['B01']" in m for m in messages)
    assert backbone.stem == 'ms'
    x = torch.randn(2, len(bands), 32, 32)
    full = torch.zeros(2, len(DEO10), 32, 32)  # the lacking bands at 0: their pretraining mean
    for i, name in enumerate(('B02', 'B03', 'B04', 'B8A', 'B11', 'B12')):
        full[:, DEO10.index(name)] = x[:, i]
    with torch.no_grad():
        expected = reference.forward_features(full, 'ms')
        got = backbone(x)
        x[:, -1] = 1e3  # B01 has zero kernels: no effect
        again = backbone(x)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(got, expected, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(got, again, strict=True))


def test_backbone_arguments_are_checked(demo_export: Path) -> None:
    with pytest.raises(ValueError, match='dtcd_swin reads its architecture from ckpt_path'):
        BACKBONE_REGISTRY.build('dtcd_swin')
    with pytest.raises(ValueError, match='no weights on any hub'):
        BACKBONE_REGISTRY.build('dtcd_swin_t', pretrained=True)
    with pytest.raises(ValueError, match=r'not dtcd_swin_b'):
        BACKBONE_REGISTRY.build('dtcd_swin_b', pretrained=True, ckpt_path=str(demo_export))
    with pytest.raises(ValueError, match=r"Unknown band name\(s\) \['NIR'\].*TerraTorch's"):
        BACKBONE_REGISTRY.build('dtcd_swin', ckpt_path=str(demo_export), bands=['RED', 'NIR'])
    with pytest.raises(ValueError, match='disagree'):
        BACKBONE_REGISTRY.build(
            'dtcd_swin', ckpt_path=str(demo_export), bands=['RED'], model_bands=['BLUE']
        )
    assert BACKBONE_REGISTRY.build('dtcd_swin_t').out_channels == [96, 192, 384, 768]


def test_encoder_decoder_factory_builds_upernet_on_a_dtcd_backbone(demo_export: Path) -> None:
    model = EncoderDecoderFactory().build_model(
        task='segmentation',
        backbone='dtcd_swin',
        decoder='UperNetDecoder',
        num_classes=3,
        backbone_pretrained=True,
        backbone_ckpt_path=str(demo_export),
        backbone_bands=DEO10,
        decoder_channels=32,
    )
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, len(DEO10), 64, 64)).output
        odd = model(torch.randn(1, len(DEO10), 60, 60)).output  # padded to a multiple of 8
    assert out.shape == (2, 3, 64, 64) and odd.shape == (1, 3, 60, 60)
    assert torch.isfinite(out).all() and out.std() > 0


def write_tiles(folder: Path, count: int, bands: int, size: int, seed: int) -> None:
    """GeoTIFF image / mask pairs in TerraTorch's generic layout, written by rasterio."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    profile = {'driver': 'GTiff', 'height': size, 'width': size, 'crs': 'EPSG:32632'}
    profile['transform'] = rasterio.transform.from_origin(500000, 5000000, 10, 10)
    for i in range(count):
        image = rng.normal(size=(bands, size, size)).astype('float32')
        mask = (image[0] > 0).astype('uint8')[None]  # learnable from the first band
        with rasterio.open(folder / f'tile{i}_img.tif', 'w', count=bands, dtype='float32',
                           **profile) as f:  # fmt: skip
            f.write(image)
        with rasterio.open(folder / f'tile{i}_mask.tif', 'w', count=1, dtype='uint8',
                           **profile) as f:  # fmt: skip
            f.write(mask)


@pytest.mark.slow
def test_terratorch_fit_runs_the_repositorys_yaml_offline(
    demo_export: Path, tmp_path: Path
) -> None:
    config = yaml.safe_load((ROOT / 'experiments' / 'terratorch' / 'segmentation.yaml').read_text())
    config['custom_modules_path'] = str(TERRATORCH_PLUGIN)
    config['trainer'] |= {'accelerator': 'cpu', 'fast_dev_run': 2}
    data = config['data']['init_args']
    for split, seed in (('train', 0), ('val', 1), ('test', 2)):
        write_tiles(tmp_path / split, count=4, bands=len(HLS6), size=64, seed=seed)
        data[f'{split}_data_root'] = str(tmp_path / split)
    data |= {'batch_size': 2, 'num_workers': 0, 'means': [0.0] * 6, 'stds': [1.0] * 6}
    model_args = config['model']['init_args']['model_args']
    model_args |= {'backbone_ckpt_path': str(demo_export), 'decoder_channels': 32}
    (tmp_path / 'fit.yaml').write_text(yaml.safe_dump(config))
    terratorch = Path(sys.executable).parent / 'terratorch'
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'TORCH_HOME': '/nonexistent/torch-hub'}
    result = subprocess.run(
        [str(terratorch), 'fit', '--config', str(tmp_path / 'fit.yaml')],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert "lacks ['B05', 'B06', 'B07', 'B08']" in log  # the band policy, announced
    assert '`Trainer.fit` stopped: `max_steps=2` reached' in log  # two training steps ran


def test_standardization_gives_the_exports_statistics_in_band_order(
    run_export: Path, demo_export: Path
) -> None:
    from dtcd.data.datamodules.pretrain import pretrain_stats

    mean, std = pretrain_stats().tensors(['B02', 'B03', 'B04', 'B8A', 'B11', 'B12'])
    assert standardization(run_export, HLS6) == {'means': mean.tolist(), 'stds': std.tolist()}
    with pytest.raises(ValueError, match=r"no statistics for \['B01'\]"):
        standardization(run_export, ['COASTAL_AEROSOL'])
    with pytest.raises(ValueError, match='records no normalisation statistics'):
        standardization(demo_export, HLS6)
