"""MultiStemSwin: shapes at every crop size, stems by band name, clear errors."""

import pytest
import torch
from timm.models import group_parameters
from timm.optim import param_groups_layer_decay

from dtcd.bands import DEO10, RGB
from dtcd.models import MultiStemSwin


@pytest.mark.parametrize(('variant', 'window_size'), [('swin_t', 7), ('swin_b', 12)])
def test_variant_shapes_and_strides(variant: str, window_size: int) -> None:
    model = MultiStemSwin(variant, window_size=window_size).eval()
    dims = model.feature_dims
    assert dims == [model.embed_dim * 2**i for i in range(4)]
    with torch.no_grad():
        for size, stem, channels in ((224, 'ms', 10), (96, 'rgb', 3), (64, 'ms', 10)):
            features = model.forward_features(torch.randn(1, channels, size, size), stem)
            shapes = [tuple(f.shape) for f in features]
            assert shapes == [
                (1, d, size // s, size // s) for d, s in zip(dims, (4, 8, 16, 32), strict=True)
            ]
    assert model.num_features == dims[-1] == {'swin_t': 768, 'swin_b': 1024}[variant]


@pytest.mark.parametrize('size', [224, 120, 96, 64])
def test_tiny_both_stems_any_size(tiny_student: MultiStemSwin, size: int) -> None:
    with torch.no_grad():
        for stem, channels in (('ms', 10), ('rgb', 3)):
            features = tiny_student.forward_features(torch.randn(2, channels, size, size), stem)
            # Patch merging pads odd maps, so stages after the stem round up (120 px: 30, 15, 8, 4).
            expected = [size // 4]
            for _ in range(3):
                expected.append(-(-expected[-1] // 2))
            assert [f.shape[-1] for f in features] == expected
            pooled = tiny_student(torch.randn(2, channels, size, size), stem)
            assert pooled.shape == (2, tiny_student.num_features)


def test_forward_is_norm_and_pool_of_last_stage(tiny_student: MultiStemSwin) -> None:
    x = torch.randn(2, 10, 64, 64)
    with torch.no_grad():
        last = tiny_student.forward_features(x, 'ms')[-1]
        expected = tiny_student.norm(last.permute(0, 2, 3, 1)).mean(dim=(1, 2))
        torch.testing.assert_close(tiny_student(x, 'ms'), expected)


def test_wrong_channel_count_names_expected_bands(tiny_student: MultiStemSwin) -> None:
    with pytest.raises(ValueError, match=r"Stem 'rgb'.*\['B04', 'B03', 'B02'\]"):
        tiny_student(torch.randn(1, 10, 64, 64), 'rgb')


def test_unknown_stem_lists_available(tiny_student: MultiStemSwin) -> None:
    with pytest.raises(ValueError, match=r"'sar'.*\['ms', 'rgb'\]"):
        tiny_student(torch.randn(1, 2, 64, 64), 'sar')


def test_stems_from_band_specs_and_config_round_trip(tiny_config: dict) -> None:
    model = MultiStemSwin(**tiny_config, stems={'ms': 'deo10', 'nir': ['B08', 'B8A']})
    assert model.bands == {'ms': DEO10, 'nir': ('B08', 'B8A')}
    assert model.stems['nir'].proj.in_channels == 2
    rebuilt = MultiStemSwin(**model.config())
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    assert rebuilt.config() == model.config()


def test_variant_defaults_and_overrides() -> None:
    assert MultiStemSwin('swin_t').drop_path_rate == 0.2  # torchvision's, as the authors trained
    model = MultiStemSwin('swin_t', drop_path_rate=0.0, embed_dim=32, depths=(1, 1, 1, 1))
    assert (model.embed_dim, model.depths, model.num_heads) == (32, (1, 1, 1, 1), (3, 6, 12, 24))
    with pytest.raises(ValueError, match='swin_b'):
        MultiStemSwin('swin_xl')
    with pytest.raises(ValueError, match='embed_dim'):
        MultiStemSwin(None, depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1))


def test_init_stem_from_rgb_by_band_name(tiny_student: MultiStemSwin) -> None:
    weight = torch.randn(tiny_student.embed_dim, 3, 4, 4)
    bias = torch.randn(tiny_student.embed_dim)
    tiny_student.init_stem_from_rgb('ms', weight, bias)
    ms = tiny_student.stems['ms'].proj
    for i, band in enumerate(DEO10):
        expected = weight[:, RGB.index(band)] if band in RGB else weight.mean(dim=1)
        torch.testing.assert_close(ms.weight[:, i], expected)
    torch.testing.assert_close(ms.bias, bias)
    tiny_student.init_stem_from_rgb('rgb', weight, bias)
    torch.testing.assert_close(tiny_student.stems['rgb'].proj.weight, weight)


def test_with_stems_keeps_names_and_body(tiny_student: MultiStemSwin) -> None:
    copy = tiny_student.with_stems(['ms'])
    assert list(copy.stems) == ['ms'] and list(copy.bands) == ['ms']
    assert list(tiny_student.stems) == ['ms', 'rgb']
    student_keys = set(tiny_student.state_dict())
    assert set(copy.state_dict()) == {k for k in student_keys if not k.startswith('stems.rgb.')}
    body = {id(p) for p in tiny_student.body_parameters()}
    stems = {id(p) for p in tiny_student.stems.parameters()}
    assert body | stems == {id(p) for p in tiny_student.parameters()} and not body & stems


def test_grad_checkpointing_gives_the_same_features_and_gradients(tiny_config: dict) -> None:
    torch.manual_seed(0)
    plain = MultiStemSwin(**tiny_config).train()
    checkpointed = MultiStemSwin(**tiny_config, grad_checkpointing=True).train()
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 10, 64, 64)
    outputs = [model(x, 'ms').square().sum() for model in (plain, checkpointed)]
    torch.testing.assert_close(outputs[0], outputs[1])
    for output in outputs:
        output.backward()
    for (name, a), b in zip(plain.named_parameters(), checkpointed.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, msg=name)
    assert checkpointed.config()['grad_checkpointing'] is True


def test_timm_layer_decay_groups_follow_the_blocks() -> None:
    model = MultiStemSwin(
        variant=None, embed_dim=16, depths=[1, 1, 2, 1], num_heads=[1, 1, 2, 2], window_size=4
    )
    groups = param_groups_layer_decay(
        model, 0.05, no_weight_decay_list=model.no_weight_decay(), layer_decay=0.5
    )
    name_of = {id(p): n for n, p in model.named_parameters()}
    scale = {name_of[id(p)]: g['lr_scale'] for g in groups for p in g['params']}
    decay = {name_of[id(p)]: g['weight_decay'] for g in groups for p in g['params']}
    top = 1 + 5  # stems are layer 0, 5 blocks, then the final norm
    assert scale['stems.ms.proj.weight'] == scale['stems.rgb.norm.bias'] == 0.5**top
    assert scale['features.0.0.attn.qkv.weight'] == 0.5 ** (top - 1)
    assert scale['features.1.reduction.weight'] == scale['features.2.0.mlp.0.weight']
    assert scale['features.4.1.attn.qkv.weight'] == 0.5 ** (top - 4)
    assert scale['features.6.0.attn.qkv.weight'] == 0.5 ** (top - 5)
    assert scale['norm.weight'] == 1.0
    assert decay['features.0.0.attn.qkv.weight'] == 0.05
    assert decay['features.0.0.attn.relative_position_bias_table'] == 0.0
    assert decay['features.0.0.attn.qkv.bias'] == 0.0
    coarse = group_parameters(model, model.group_matcher(coarse=True), reverse=True)
    assert coarse['features.3.reduction.weight'] == coarse['features.4.1.attn.qkv.weight']
    assert len(set(coarse.values())) == 1 + 4 + 1  # stems, four stages, the norm
