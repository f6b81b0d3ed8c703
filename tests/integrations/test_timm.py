"""dtcd students through ``timm.create_model``: the same stage maps and embedding as dtcd's own
loader gives, timm's ``features_only`` wrapper, stems chosen by band names, clear errors."""

from pathlib import Path

import pytest
import timm
import torch

import dtcd.integrations.timm  # noqa: F401  (registers the dtcd models)
from dtcd.bands import DEO10, MissingBandError
from dtcd.models import MultiStemSwin


def create(export: Path, **kwargs: object) -> torch.nn.Module:
    overlay = {'file': str(export)}
    return timm.create_model('dtcd_swin', pretrained=True, pretrained_cfg_overlay=overlay, **kwargs)


def test_timm_dtcd_swin_gives_dtcds_stage_maps_exactly(demo_export: Path) -> None:
    reference = MultiStemSwin.from_pretrained(demo_export).eval()
    model = create(demo_export).eval()
    x = torch.randn(2, len(DEO10), 64, 64)
    with torch.no_grad():
        expected = reference.forward_features(x, 'ms')
        maps = model.forward_intermediates(x, intermediates_only=True)
        features_only = create(demo_export, features_only=True).eval()
        listed = features_only(x)
        pooled = model.forward_head(model.forward_features(x), pre_logits=True)
    assert len(maps) == len(listed) == 4
    for ours, got, again in zip(expected, maps, listed, strict=True):
        assert (got - ours).abs().max().item() == 0.0 and torch.equal(again, ours)
    assert [m.shape[-1] for m in maps] == [16, 8, 4, 2]  # strides 4, 8, 16, 32
    assert features_only.feature_info.channels() == reference.feature_dims
    assert features_only.feature_info.reduction() == [4, 8, 16, 32]
    assert torch.equal(pooled, reference(x, 'ms'))  # the DEO embedding
    assert model.num_features == reference.num_features and model(x).shape == (2, 256)


def test_a_stem_is_chosen_by_the_inputs_band_names(demo_export: Path) -> None:
    reference = MultiStemSwin.from_pretrained(demo_export).eval()
    rgb = create(demo_export, bands=['B02', 'B03', 'B04']).eval()  # blue, green, red order
    assert rgb.stem == 'rgb' and rgb.in_chans == 3
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        expected = reference.forward_features(x[:, [2, 1, 0]], 'rgb')  # the stem's R, G, B
        got = rgb.forward_intermediates(x, intermediates_only=True)
    assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))
    thirteen = ['B01', *DEO10, 'B09', 'B10']
    assert create(demo_export, bands=thirteen).stem == 'ms'  # the stem with most bands covered
    with pytest.raises(MissingBandError, match=r"No stem of this model can run on bands \['B02'\]"):
        create(demo_export, bands=['B02'])
    with pytest.raises(MissingBandError, match=r"Stem 'ms': Band\(s\) \['B11', 'B12'\]"):
        create(demo_export, stem='ms', bands=[b for b in DEO10 if b not in ('B11', 'B12')])


def test_timm_arguments_are_checked(demo_export: Path) -> None:
    with pytest.raises(ValueError, match='dtcd_swin reads its architecture from an exported'):
        timm.create_model('dtcd_swin')
    with pytest.raises(ValueError, match=r'in_chans=13, but stem .ms. takes 10 bands'):
        create(demo_export, in_chans=13)
    with pytest.raises(
        ValueError, match=r'not dtcd_swin_t \(swin_t, window 7\); load it as dtcd_swin'
    ):
        timm.create_model('dtcd_swin_t', pretrained=True,
                          pretrained_cfg_overlay={'file': str(demo_export)})  # fmt: skip
    with pytest.raises(ValueError, match='no weights on any hub'):
        timm.create_model('dtcd_swin_b', pretrained=True)
    swin_t = timm.create_model('dtcd_swin_t', num_classes=5)
    assert swin_t.backbone.config()['variant'] == 'swin_t' and swin_t.backbone.window_size == 7
    assert swin_t(torch.randn(1, 10, 64, 64)).shape == (1, 5)
