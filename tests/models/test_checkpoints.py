"""The authors' DEO weights, dtcd checkpoints and safetensors exports, loaded strictly."""

import json
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

import dtcd
from dtcd.bands import DEO10, RGB
from dtcd.main import main
from dtcd.models import MultiStemSwin, export_vit_teacher, load_backbone, load_deo_weights
from dtcd.models.checkpoints import export_backbone

SIZES = {'ms': 10, 'rgb': 3}


def assert_same_features(model: MultiStemSwin, reference, sizes: tuple[int, ...]) -> None:
    torch.manual_seed(2)
    with torch.no_grad():
        for size in sizes:
            for stem, channels in SIZES.items():
                x = torch.randn(1, channels, size, size)
                ours = model.forward_features(x, stem)
                theirs = reference.stage_features(x, stem)
                for a, b in zip(ours, theirs, strict=True):
                    assert a.shape == b.shape
                    assert (a - b).abs().max() <= 1e-4, (size, stem)


def test_deo_swin_t_equivalent_at_every_size(deo_swin_t) -> None:
    reference, path = deo_swin_t
    model = load_deo_weights(path, 'swin_t').eval()
    assert model.window_size == 7 and model.bands == {'ms': DEO10, 'rgb': RGB}
    assert_same_features(model, reference, (224, 96, 64))


@pytest.mark.slow
def test_deo_swin_b_window_12_equivalent(deo_reference: Callable, tmp_path: Path) -> None:
    reference = deo_reference('swin_b', 12)
    path = reference.save(tmp_path / 'DEO_swin_b.pth')
    model = load_deo_weights(path, 'swin_b', window_size=12).eval()
    assert_same_features(model, reference, (384, 96))


def test_deo_heads_load_on_request(deo_swin_t) -> None:
    reference, path = deo_swin_t
    model, heads = load_deo_weights(path, 'swin_t', load_heads=True)
    assert isinstance(model, MultiStemSwin)
    assert set(heads) == {'head_ms', 'cls_head', 'patch_head_mid', 'patch_head_late'}
    x = torch.randn(3, 768)
    with torch.no_grad():
        expected = F.normalize(reference.head_ms.mlp(x), dim=-1)
        torch.testing.assert_close(heads['head_ms'](x), expected)
    assert heads['patch_head_mid'].mlp[0].in_features == 384


def test_deo_prefixes_and_bare_state_dict(deo_swin_t, tmp_path: Path) -> None:
    reference, _ = deo_swin_t
    state = {}
    for key, value in reference.state_dict().items():
        prefix = '_orig_mod.module.' if key.startswith('backbone.') else 'module._orig_mod.'
        state[prefix + key] = value
    path = tmp_path / 'bare.pth'
    torch.save(state, path)
    assert_same_features(load_deo_weights(path, 'swin_t').eval(), reference, (64,))


def test_deo_wrong_variant_or_window_is_explained(deo_swin_t) -> None:
    _, path = deo_swin_t
    with pytest.raises(ValueError, match=r"swin_t.*variant='swin_b'"):
        load_deo_weights(path, 'swin_b')
    with pytest.raises(ValueError, match=r'window_size=7.*window_size=12'):
        load_deo_weights(path, 'swin_t', window_size=12)


def test_deo_unknown_or_missing_keys_are_errors(deo_swin_t, tmp_path: Path) -> None:
    reference, _ = deo_swin_t
    state = dict(reference.state_dict())
    state['backbone.mask_token'] = torch.zeros(96)
    state['prototypes.weight'] = torch.zeros(4, 4)
    torch.save({'student': state}, tmp_path / 'extra.pth')
    with pytest.raises(ValueError, match=r"\['backbone.mask_token', 'prototypes.weight'\]"):
        load_deo_weights(tmp_path / 'extra.pth', 'swin_t')
    state = dict(reference.state_dict())
    del state['backbone.features.2.1.mlp.0.weight']
    torch.save({'student': state}, tmp_path / 'missing.pth')
    with pytest.raises(RuntimeError, match=r'features\.2\.1\.mlp\.0\.weight'):
        load_deo_weights(tmp_path / 'missing.pth', 'swin_t')


def test_from_pretrained_detects_deo_weights(deo_swin_t) -> None:
    reference, path = deo_swin_t
    model = MultiStemSwin.from_pretrained(path).eval()
    assert model.variant == 'swin_t'
    assert_same_features(model, reference, (64,))


def lightning_checkpoint(model: MultiStemSwin, path: Path, hparams: dict | None) -> Path:
    state = {f'student.{k}': v for k, v in model.state_dict().items()}
    state['ema.backbone.norm.weight'] = torch.ones(1)
    ckpt = {'state_dict': state, 'epoch': 1}
    if hparams is not None:
        ckpt['hyper_parameters'] = hparams
    torch.save(ckpt, path)
    return path


def assert_same_model(a: MultiStemSwin, b: MultiStemSwin) -> None:
    assert a.config() == b.config()
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)


def test_lightning_checkpoint_with_cli_hparams(tiny_config: dict, tmp_path: Path) -> None:
    model = MultiStemSwin(**tiny_config, stems={'ms': 'deo10', 'nir': ['B08', 'B8A']})
    hparams = {'student': {'class_path': 'dtcd.models.MultiStemSwin', 'init_args': model.config()}}
    path = lightning_checkpoint(model, tmp_path / 'last.ckpt', hparams)
    assert_same_model(MultiStemSwin.from_pretrained(path), model)


def test_lightning_checkpoint_inferred_from_shapes(tiny_config: dict, tmp_path: Path) -> None:
    model = MultiStemSwin(**tiny_config, window_size=4)
    path = lightning_checkpoint(model, tmp_path / 'last.ckpt', hparams=None)
    loaded = MultiStemSwin.from_pretrained(path)
    assert (loaded.window_size, loaded.depths, loaded.bands) == (4, (1, 1, 1, 1), model.bands)
    assert loaded.state_dict().keys() == model.state_dict().keys()
    with pytest.raises(ValueError, match=r"prefix 'teacher\.'.*'ema\.', 'student\.'"):
        MultiStemSwin.from_pretrained(path, prefix='teacher.')


def test_export_verb_round_trip(tiny_config: dict, tmp_path: Path) -> None:
    model = MultiStemSwin(**tiny_config).eval()
    ckpt = lightning_checkpoint(model, tmp_path / 'last.ckpt', {'student': model.config()})
    out = tmp_path / 'backbone.safetensors'
    main(['export', str(ckpt), str(out)])
    with safe_open(str(out), framework='pt') as f:
        metadata = f.metadata()
    assert metadata['dtcd_version'] == dtcd.__version__
    assert json.loads(metadata['stems']) == {'ms': list(DEO10), 'rgb': list(RGB)}
    assert json.loads(metadata['window_size']) == 7
    assert json.loads(metadata['depths']) == [1, 1, 1, 1]
    loaded = MultiStemSwin.from_pretrained(out)
    assert_same_model(loaded, model)


def test_export_of_deo_weights(deo_swin_t, tmp_path: Path) -> None:
    reference, path = deo_swin_t
    out = tmp_path / 'deo.safetensors'
    main(['export', str(path), str(out)])
    assert_same_features(load_backbone(out).eval(), reference, (64,))


class _Payload:
    """Any class: unpickling it means running code the checkpoint chose."""


@pytest.mark.parametrize('load', [load_backbone, lambda path: export_vit_teacher(path, path)])
def test_loaders_refuse_arbitrary_pickles(load: Callable, tmp_path: Path) -> None:
    path = tmp_path / 'evil.ckpt'
    torch.save({'state_dict': {}, 'hyper_parameters': {'x': _Payload()}}, path)
    with pytest.raises(pickle.UnpicklingError, match='Weights only load failed'):
        load(path)


def test_from_pretrained_reads_through_checkpoints_module() -> None:
    assert MultiStemSwin.file_loader is load_backbone  # installed by dtcd.models.checkpoints


def test_an_export_without_band_lists_is_refused(tiny_config: dict, tmp_path: Path) -> None:
    model = MultiStemSwin(**tiny_config)
    out = export_backbone(lightning_checkpoint(model, tmp_path / 'last.ckpt', None),
                          tmp_path / 'student.safetensors')  # fmt: skip
    with safe_open(str(out), framework='pt') as f:
        metadata, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    save_file(tensors, out, metadata={**metadata, 'stems': json.dumps({'ms': []})})
    with pytest.raises(ValueError, match='names no band list for some stem'):
        MultiStemSwin.from_pretrained(out)
