"""DINO-style multi-crop made on the training device, for every band at once (PAPER.md §2.8).

All crops of one size come from a single bicubic ``grid_sample`` call: each image's crops are
stacked along the height of its sampling grid, so no image is copied per crop. Geometry (crop and
flip) is shared by all bands; photometric augmentation touches only the RGB bands, per crop, in
[0, 1] units, after which the RGB is re-normalised and put back among the other bands.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dtcd.augment.photometric import (
    color_jitter,
    random_gaussian_blur,
    random_grayscale,
    random_solarize,
)
from dtcd.bands import DEO10, FMOW_SENTINEL_DEO10, RGB, band_indices, resolve_bands


@dataclass
class MultiCropViews:
    """Crops of a batch, view-major: ``global_views[g, b]`` is view ``g`` of image ``b``.

    Attributes:
        global_views: ``[G, B, C, h, w]``.
        local_views: ``[L, B, C, h', w']`` (``L`` may be 0).
        masks: ``[G·B, ceil(h/32), ceil(w/32)]`` bool iBOT masks of the global views, set by
            the training loop when a teacher asks for masked views.
    """

    global_views: Tensor
    local_views: Tensor
    masks: Tensor | None = None

    @property
    def num_views(self) -> int:
        """Total views per image, global first."""
        return self.global_views.shape[0] + self.local_views.shape[0]


def sample_crop_boxes(
    n: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    attempts: int = 10,
    device: torch.device | None = None,
) -> Tensor:
    """Random-resized-crop boxes ``[n, 4]`` as ``(x0, y0, w, h)`` in pixels.

    Same distribution as torchvision's ``RandomResizedCrop``: area share uniform in ``scale``,
    log aspect ratio uniform in ``ratio``; the first of ``attempts`` candidates that fits is used,
    otherwise the whole image clipped to ``ratio``. Boxes are continuous (sub-pixel) because the
    crops are resampled anyway.
    """
    area = height * width
    target = area * torch.empty(n, attempts, device=device).uniform_(*scale)
    log_ratio = torch.empty(n, attempts, device=device).uniform_(
        math.log(ratio[0]), math.log(ratio[1])
    )
    aspect = log_ratio.exp()
    w = (target * aspect).sqrt()
    h = (target / aspect).sqrt()
    fits = (w <= width) & (h <= height)
    first = fits.float().argmax(dim=1)
    rows = torch.arange(n, device=device)
    w, h = w[rows, first], h[rows, first]
    any_fit = fits.any(dim=1)
    image_ratio = width / height
    fallback_w = width if image_ratio <= ratio[1] else height * ratio[1]
    fallback_h = height if image_ratio >= ratio[0] else width / ratio[0]
    w = torch.where(any_fit, w, torch.full_like(w, fallback_w))
    h = torch.where(any_fit, h, torch.full_like(h, fallback_h))
    x0 = torch.rand(n, device=device) * (width - w)
    y0 = torch.rand(n, device=device) * (height - h)
    return torch.stack([x0, y0, w, h], dim=1)


def crop_resize(
    images: Tensor, boxes: Tensor, flips: Tensor, size: int, mode: str = 'bicubic'
) -> Tensor:
    """Resample ``K`` boxes per image to ``size``² in one ``grid_sample`` call.

    Args:
        images: ``[B, C, H, W]``.
        boxes: ``[K, B, 4]`` boxes ``(x0, y0, w, h)`` in pixels.
        flips: ``[K, B]`` bool, mirror the crop horizontally.
        size: Output side.
        mode: ``grid_sample`` interpolation.

    Returns:
        ``[K, B, C, size, size]``.
    """
    num_crops, batch = boxes.shape[:2]
    height, width = images.shape[-2:]
    x0, y0, w, h = boxes.unbind(-1)  # each [K, B]
    # Output pixel centres in [-1, 1] (align_corners=False convention).
    steps = (torch.arange(size, device=images.device, dtype=torch.float32) + 0.5) / size * 2 - 1
    sx = torch.where(flips, -w, w) / width
    gx = sx[..., None] * steps + ((2 * x0 + w) / width - 1)[..., None]  # [K, B, size]
    gy = (h / height)[..., None] * steps + ((2 * y0 + h) / height - 1)[..., None]
    grid = torch.stack(
        [gx[:, :, None, :].expand(-1, -1, size, -1), gy[:, :, :, None].expand(-1, -1, -1, size)],
        dim=-1,
    )  # [K, B, size(y), size(x), 2]
    grid = grid.permute(1, 0, 2, 3, 4).reshape(batch, num_crops * size, size, 2)
    out = F.grid_sample(
        images, grid.to(images.dtype), mode=mode, padding_mode='border', align_corners=False
    )  # [B, C, K·size, size]
    # One copy to view-major memory, so flattening views (photometric ops, student passes) is free.
    return out.view(batch, -1, num_crops, size, size).permute(2, 0, 1, 3, 4).contiguous()


class MultiCrop(nn.Module):
    """G global + L local crops per image with RGB-only photometric augmentation.

    Defaults are DEO's (PAPER.md §2.8). The input is a normalised batch whose RGB bands were
    standardised with ``rgb_mean``/``rgb_std`` in [0, 1] units; each crop's RGB is brought back to
    those units, divided by the crop's RGB maximum, augmented, and standardised again.

    Args:
        bands: Band names of the input channels (a set name or a list).
        num_global: Global crops per image.
        global_size: Global crop side in pixels.
        global_scale: Area share range of global crops.
        num_local: Local crops per image.
        local_size: Local crop side in pixels.
        local_scale: Area share range of local crops.
        flip_p: Horizontal flip probability.
        photometric: Apply colour jitter, grayscale, blur and solarize to the RGB bands.
        rgb_bands: Names of the red, green and blue bands.
        rgb_mean: Mean of the RGB bands in [0, 1] units, used to undo and redo normalisation.
        rgb_std: Standard deviation of the RGB bands in [0, 1] units.
        jitter: Colour-jitter brightness, contrast, saturation, hue.
        jitter_p: Probability of colour jitter per crop.
        grayscale_p: Probability of grayscale per crop.
        global_blur_p: Blur probability of each global view (the last value repeats).
        global_solarize_p: Solarize probability of each global view (the last value repeats).
        local_blur_p: Blur probability of local views.
        blur_sigma: Range of the Gaussian blur σ in pixels.
        blur_kernel_size: Gaussian kernel side.
        interpolation: ``grid_sample`` mode for resizing (``'bicubic'`` or ``'bilinear'``).
    """

    def __init__(
        self,
        bands: str | Sequence[str] = DEO10,
        num_global: int = 2,
        global_size: int = 224,
        global_scale: tuple[float, float] = (0.4, 1.0),
        num_local: int = 10,
        local_size: int = 96,
        local_scale: tuple[float, float] = (0.05, 0.4),
        flip_p: float = 0.5,
        photometric: bool = True,
        rgb_bands: Sequence[str] = RGB,
        rgb_mean: Sequence[float] | None = None,
        rgb_std: Sequence[float] | None = None,
        jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.2, 0.1),
        jitter_p: float = 0.8,
        grayscale_p: float = 0.2,
        global_blur_p: Sequence[float] = (1.0, 0.1),
        global_solarize_p: Sequence[float] = (0.0, 0.2),
        local_blur_p: float = 0.5,
        blur_sigma: tuple[float, float] = (0.1, 2.0),
        blur_kernel_size: int = 23,
        interpolation: str = 'bicubic',
    ) -> None:
        super().__init__()
        if num_global < 1:
            raise ValueError('MultiCrop needs at least one global crop (the teachers see them).')
        self.bands = resolve_bands(bands)
        self.rgb_index = band_indices(self.bands, resolve_bands(list(rgb_bands)))
        start = self.rgb_index[0]
        consecutive = self.rgb_index == list(range(start, start + 3))
        # A slice is a view (DEO10 starts with R, G, B); a list index gathers a copy.
        self._rgb: slice | list[int] = slice(start, start + 3) if consecutive else self.rgb_index
        default_mean, default_std = FMOW_SENTINEL_DEO10.tensors(RGB)
        mean = torch.tensor(rgb_mean) if rgb_mean is not None else default_mean
        std = torch.tensor(rgb_std) if rgb_std is not None else default_std
        self.register_buffer('rgb_mean', mean.float().view(1, 3, 1, 1), persistent=False)
        self.register_buffer('rgb_std', std.float().view(1, 3, 1, 1), persistent=False)
        self.num_global, self.global_size, self.global_scale = num_global, global_size, global_scale
        self.num_local, self.local_size, self.local_scale = num_local, local_size, local_scale
        self.flip_p = flip_p
        self.photometric = photometric
        self.jitter, self.jitter_p, self.grayscale_p = jitter, jitter_p, grayscale_p
        self.global_blur_p, self.global_solarize_p = list(global_blur_p), list(global_solarize_p)
        self.local_blur_p = local_blur_p
        self.blur_sigma, self.blur_kernel_size = blur_sigma, blur_kernel_size
        self.interpolation = interpolation

    @torch.no_grad()
    def forward(self, images: Tensor) -> MultiCropViews:
        """Crop and augment ``images`` ``[B, C, H, W]`` (channels in ``self.bands`` order).

        Runs in float32 even under autocast: resampling and photometric ops are cheap next to
        the networks, and bf16 would quantise the pixel values.
        """
        with torch.autocast(device_type=images.device.type, enabled=False):
            return self._forward(images)

    def _forward(self, images: Tensor) -> MultiCropViews:
        if images.ndim != 4 or images.shape[1] != len(self.bands):
            raise ValueError(
                f'MultiCrop expects [B, {len(self.bands)}, H, W] with bands {list(self.bands)}, '
                f'got {tuple(images.shape)}.'
            )
        images = images.float()
        global_views = self._crops(images, self.num_global, self.global_size, self.global_scale)
        for g in range(self.num_global):
            self._photometric(
                global_views[g], _pick(self.global_blur_p, g), _pick(self.global_solarize_p, g)
            )
        if self.num_local:
            local_views = self._crops(images, self.num_local, self.local_size, self.local_scale)
            self._photometric(local_views.flatten(0, 1), self.local_blur_p, 0.0)
        else:
            local_views = images.new_zeros(0, *images.shape[:2], self.local_size, self.local_size)
        return MultiCropViews(global_views, local_views)

    def _crops(self, images: Tensor, count: int, size: int, scale: tuple[float, float]) -> Tensor:
        batch, _, height, width = images.shape
        boxes = sample_crop_boxes(count * batch, height, width, scale, device=images.device)
        flips = torch.rand(count, batch, device=images.device) < self.flip_p
        return crop_resize(images, boxes.view(count, batch, 4), flips, size, self.interpolation)

    def _photometric(self, crops: Tensor, blur_p: float, solarize_p: float) -> Tensor:
        """Augment the RGB bands of ``crops`` ``[N, C, h, w]`` in place (fresh crops, no copy)."""
        index = self._rgb
        rgb = crops[:, index] * self.rgb_std + self.rgb_mean
        peak = rgb.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
        rgb = (rgb / peak).clamp(0, 1)
        if self.photometric:
            rgb = color_jitter(rgb, *self.jitter, p=self.jitter_p)
            rgb = random_grayscale(rgb, self.grayscale_p)
            rgb = random_gaussian_blur(rgb, blur_p, self.blur_kernel_size, self.blur_sigma)
            if solarize_p > 0:
                rgb = random_solarize(rgb, solarize_p)
        crops[:, index] = (rgb - self.rgb_mean) / self.rgb_std
        return crops


def _pick(values: Sequence[float], index: int) -> float:
    return values[min(index, len(values) - 1)]
