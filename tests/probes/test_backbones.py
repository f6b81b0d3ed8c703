"""Backbone specs: every accepted form, stem choice by band name, clear errors, layer decay."""

from pathlib import Path

import pytest
import torch

from dtcd.bands import EUROSAT13, RGB, MissingBandError
from dtcd.models import MultiStemSwin, export_backbone
from dtcd.probes import SPEC_FORMS, build_backbone
from tests.probes.conftest import TINY_SWIN

TINY_VIT = {'depth': 4, 'embed_dim': 96, 'num_heads': 3}


def test_unknown_spec_lists_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match='neither an existing file') as info:
        build_backbone('swin_b_from_nowhere', EUROSAT13)
    for form in ('PATH', 'random:<variant>', 'timm:<model>'):
        assert form in str(info.value)
    assert len(SPEC_FORMS) == 3


def test_random_backbone_picks_the_richest_stem_the_data_has() -> None:
    assert build_backbone('random:swin_t', EUROSAT13, TINY_SWIN).stem == 'ms'
    rgb = build_backbone('random:swin_t', ('B02', 'B03', 'B04', 'B08'), TINY_SWIN)
    assert rgb.stem == 'rgb' and rgb.bands == RGB
    with pytest.raises(MissingBandError, match='No stem'):
        build_backbone('random:swin_t', ('B02', 'B03'), TINY_SWIN)


def test_swin_features_and_pooling() -> None:
    backbone = build_backbone('random:swin_t', EUROSAT13, TINY_SWIN).eval()
    x = torch.randn(2, 10, 64, 64)
    maps = backbone.encode(x).maps
    assert [m.shape[1] for m in maps] == backbone.feature_dims == [16, 32, 64, 128]
    assert [m.shape[-1] for m in maps] == [16, 8, 4, 2]
    raw, norm = backbone.encode(x, 'raw').pooled, backbone.encode(x, 'norm').pooled
    torch.testing.assert_close(raw, maps[-1].mean(dim=(2, 3)))
    torch.testing.assert_close(norm, backbone.model(x, 'ms'))


def test_checkpoint_and_export_load_the_pretrained_student(
    pretrained_checkpoint: Path, tmp_path: Path
) -> None:
    student = MultiStemSwin.from_pretrained(pretrained_checkpoint)
    exported = export_backbone(pretrained_checkpoint, tmp_path / 'student.safetensors')
    for spec in (pretrained_checkpoint, exported):
        backbone = build_backbone(str(spec), EUROSAT13)
        for key, value in student.state_dict().items():
            assert torch.equal(backbone.model.state_dict()[key], value), key
    with pytest.raises(ValueError, match='backbone_kwargs apply'):
        build_backbone(str(exported), EUROSAT13, {'embed_dim': 8})


def test_timm_baseline_reads_rgb_through_four_blocks() -> None:
    backbone = build_backbone('timm:vit_small_patch16_dinov3', EUROSAT13, TINY_VIT)
    assert backbone.bands == RGB and not backbone.pyramid
    assert backbone.indices == [0, 1, 2, 3]  # depth 4: evenly spaced
    x = torch.randn(1, 3, 64, 64)
    features = backbone.eval().encode(x)
    assert [tuple(m.shape) for m in features.maps] == [(1, 96, 4, 4)] * 4
    # One pass gives the maps and the model's own pooled features (forward_features + head).
    expected = backbone.model.forward_head(backbone.model.forward_features(x), pre_logits=True)
    assert features.pooled.shape == (1, 96) and torch.equal(features.pooled, expected)
    deep = build_backbone('timm:vit_small_patch16_dinov3', RGB, {**TINY_VIT, 'depth': 12})
    assert deep.indices == [3, 5, 8, 11]  # the paper's blocks for ViT-B depth
    with pytest.raises(FileNotFoundError, match='not found'):
        build_backbone('timm:vit_small_patch16_dinov3', RGB, TINY_VIT, weights='/nope.pth')


def test_swin_layer_decay_grows_towards_the_top() -> None:
    backbone = build_backbone('random:swin_t', EUROSAT13, {**TINY_SWIN, 'depths': [1, 1, 2, 1]})
    scales = backbone.lr_scales(0.5)
    top = 1 + 5  # stems are layer 0, 5 blocks, then the final norm
    assert scales['model.stems.ms.proj.weight'] == 0.5**top
    assert scales['model.norm.weight'] == 1.0
    assert scales['model.features.0.0.norm1.weight'] == 0.5 ** (top - 1)
    assert scales['model.features.1.norm.weight'] == 0.5 ** (top - 2)  # merging joins block 2
    assert scales['model.features.4.1.norm1.weight'] == 0.5 ** (top - 4)
    assert scales['model.features.6.0.norm1.weight'] == 0.5 ** (top - 5)


def test_timm_layer_decay_comes_from_timm_groups() -> None:
    backbone = build_backbone('timm:vit_small_patch16_dinov3', RGB, TINY_VIT)
    scales = backbone.lr_scales(0.5)
    assert scales['model.patch_embed.proj.weight'] < scales['model.blocks.3.attn.qkv.weight'] <= 1
