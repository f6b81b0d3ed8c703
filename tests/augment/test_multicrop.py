"""Batched multi-crop: geometry shared by all bands, photometric ops on RGB only."""

import math

import pytest
import torch
import torch.nn.functional as F

from dtcd.augment import MultiCrop, crop_resize, sample_crop_boxes
from dtcd.augment.photometric import color_jitter, random_gaussian_blur, random_solarize
from dtcd.bands import DEO10, FMOW_SENTINEL_DEO10, RGB


def small_multicrop(**kwargs: object) -> MultiCrop:
    options = dict(global_size=32, local_size=16, num_local=3)
    options.update(kwargs)
    return MultiCrop(**options)  # type: ignore[arg-type]


def test_view_shapes_are_view_major() -> None:
    views = small_multicrop()(torch.randn(5, 10, 48, 48))
    assert views.global_views.shape == (2, 5, 10, 32, 32)
    assert views.local_views.shape == (3, 5, 10, 16, 16)
    assert views.num_views == 5


def test_crop_resize_matches_resampling_of_the_cropped_region() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 4, 64, 64)
    full = torch.tensor([0.0, 0.0, 64.0, 64.0]).expand(1, 2, 4)
    no_flip, flip = torch.zeros(1, 2, dtype=torch.bool), torch.ones(1, 2, dtype=torch.bool)
    torch.testing.assert_close(crop_resize(x, full, no_flip, 64)[0], x)
    torch.testing.assert_close(crop_resize(x, full, flip, 64)[0], x.flip(-1))
    box = torch.tensor([8.0, 16.0, 32.0, 24.0]).expand(1, 2, 4)
    crop = crop_resize(x, box, no_flip, 48)[0]
    reference = F.interpolate(x[:, :, 16:40, 8:40], size=(48, 48), mode='bicubic')
    # Away from the crop border (where we sample real neighbours, not replicated edges) they agree.
    torch.testing.assert_close(crop[..., 4:-4, 4:-4], reference[..., 4:-4, 4:-4], atol=1e-4, rtol=0)


def test_crop_boxes_follow_random_resized_crop_distribution() -> None:
    torch.manual_seed(0)
    boxes = sample_crop_boxes(4000, 100, 80, scale=(0.05, 0.4))
    x0, y0, w, h = boxes.unbind(-1)
    assert (
        (x0 >= 0).all()
        and (y0 >= 0).all()
        and (x0 + w <= 80.001).all()
        and (y0 + h <= 100.001).all()
    )
    share = w * h / (100 * 80)
    assert share.min() >= 0.05 - 1e-4 and share.max() <= 0.4 + 1e-4
    assert share.mean().item() == pytest.approx(0.225, abs=0.01)
    aspect = (w / h).log()
    assert aspect.abs().max() <= math.log(4 / 3) + 1e-4


def test_non_rgb_bands_get_geometry_only_and_rgb_is_rescaled_per_crop() -> None:
    torch.manual_seed(0)
    # Spatially constant bands: any crop of a non-RGB band must keep its exact value.
    values = torch.arange(10.0).view(1, 10, 1, 1)
    images = (values + torch.zeros(4, 10, 40, 40)).clone()
    images[:, :3] = torch.rand(4, 3, 40, 40)  # RGB with texture, so photometric ops act
    views = small_multicrop()(images)
    for group in (views.global_views, views.local_views):
        torch.testing.assert_close(group[:, :, 3:], values[:, 3:].expand_as(group[:, :, 3:]))
    mean, std = FMOW_SENTINEL_DEO10.tensors(RGB)
    rgb = views.global_views[:, :, :3] * std.view(1, 1, 3, 1, 1) + mean.view(1, 1, 3, 1, 1)
    assert rgb.min() >= -1e-5 and rgb.max() <= 1 + 1e-5


def test_without_photometric_each_crop_rgb_peaks_at_one() -> None:
    images = torch.rand(3, 10, 40, 40) * 3
    views = small_multicrop(photometric=False)(images)
    mean, std = FMOW_SENTINEL_DEO10.tensors(RGB)
    rgb = views.local_views[:, :, :3] * std.view(1, 1, 3, 1, 1) + mean.view(1, 1, 3, 1, 1)
    torch.testing.assert_close(rgb.amax(dim=(2, 3, 4)), torch.ones(3, 3))


def test_flip_probability_and_band_order_by_name() -> None:
    torch.manual_seed(0)
    ramp = torch.linspace(0, 1, 32).expand(64, 10, 32, 32).clone()
    views = small_multicrop(global_scale=(1.0, 1.0), photometric=False)(ramp)
    decreasing = views.global_views[:, :, 5, 0, -1] < views.global_views[:, :, 5, 0, 0]
    assert 0.35 < decreasing.float().mean().item() < 0.65
    # RGB found by name even when the input puts it elsewhere.
    reordered = small_multicrop(bands=list(DEO10[3:] + DEO10[:3]))
    assert reordered.rgb_bands == RGB
    x = torch.randn(2, 10, 32, 32)
    torch.manual_seed(0)
    moved = reordered(x[:, [*range(3, 10), 0, 1, 2]])
    torch.manual_seed(0)
    plain = small_multicrop()(x)
    torch.testing.assert_close(moved.global_views[:, :, 7:], plain.global_views[:, :, :3])


def test_photometric_ops_on_batches() -> None:
    torch.manual_seed(0)
    rgb = torch.rand(16, 3, 24, 24)
    assert torch.equal(color_jitter(rgb, 0.4, 0.4, 0.2, 0.1, p=0.0), rgb)
    jittered = color_jitter(rgb, 0.4, 0.4, 0.2, 0.1, p=1.0)
    assert jittered.min() >= 0 and jittered.max() <= 1 and not torch.equal(jittered, rgb)
    # A hue rotation keeps luma; mid-grey inputs keep every channel away from the clamp.
    mid = 0.4 + 0.2 * rgb
    hue_only = color_jitter(mid, 0, 0, 0, 0.1, p=1.0)
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    assert not torch.allclose(hue_only, mid)
    torch.testing.assert_close((hue_only * luma).sum(1), (mid * luma).sum(1), atol=1e-5, rtol=0)
    solarized = random_solarize(rgb, p=1.0)
    torch.testing.assert_close(solarized, torch.where(rgb >= 0.5, 1 - rgb, rgb))
    blurred = random_gaussian_blur(rgb, p=1.0)
    assert blurred.std() < rgb.std()
    torch.testing.assert_close(blurred.mean(), rgb.mean(), atol=0.01, rtol=0)


def test_rejects_wrong_band_count() -> None:
    with pytest.raises(ValueError, match='expects \\[B, 10, H, W\\]'):
        small_multicrop()(torch.randn(2, 13, 32, 32))
