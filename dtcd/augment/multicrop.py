"""DINO-style multi-crop made on the training device, for every band at once (PAPER.md §2.8).

All crops of one size come from a single bicubic ``grid_sample`` call: each image's crops are
stacked along the height of its sampling grid, so no image is copied per crop. Geometry (crop and
flip) is shared by all bands; after it, the ``ops`` entries (:class:`~dtcd.augment.ViewOps`) run
their ops on the bands, view groups and units they name. The default entries are DEO's RGB-only
photometric ops, per crop, in [0, 1] units, after which the RGB is re-normalised and put back
among the other bands.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dtcd.augment.ops import ColorJitter, RandomGaussianBlur, RandomGrayscale, RandomSolarize
from dtcd.augment.views import ViewOps, view_names
from dtcd.bands import (
    DEO10,
    FMOW_SENTINEL_DEO10,
    RGB,
    MissingBandError,
    band_indices,
    resolve_bands,
)


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
    """G global + L local crops per image, then augmentation ops per band group and view group.

    Defaults are DEO's (PAPER.md §2.8). The input is a normalised batch whose RGB bands were
    standardised with ``rgb_mean``/``rgb_std`` in [0, 1] units; each crop's RGB is brought back to
    those units, divided by the crop's RGB maximum, augmented, and standardised again. ``ops``
    replaces the default entries (the ``photometric``, ``jitter*``, ``*blur*`` and
    ``*solarize*`` arguments build them); entries in ``reflectance`` units need the data's band
    statistics (:meth:`set_band_stats`, which the pretraining module calls with its data module's).

    Args:
        bands: Band names of the input channels (a set name or a list).
        num_global: Global crops per image.
        global_size: Global crop side in pixels.
        global_scale: Area share range of global crops.
        num_local: Local crops per image.
        local_size: Local crop side in pixels.
        local_scale: Area share range of local crops.
        flip_p: Horizontal flip probability.
        photometric: Apply colour jitter, grayscale, blur and solarize to the RGB bands (without,
            the per-crop RGB scaling stays).
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
        ops: The augmentation entries, in order (default: DEO's, from the arguments above).
        dn_scale: Digital number of reflectance 1 (Sentinel-2: 10000), for ``reflectance`` units.
        multi_date: For batches of several dates per sample (``[B, T, C, H, W]``): crop the
            global views of a sample from different dates (see :meth:`_dates`); local view ``k``
            comes from the date of global view ``k mod G``. Off: every view of a sample from the
            same, random, date.
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
        ops: Sequence[ViewOps] | None = None,
        dn_scale: float = 10000.0,
        multi_date: bool = False,
    ) -> None:
        super().__init__()
        if num_global < 1:
            raise ValueError('MultiCrop needs at least one global crop (the teachers see them).')
        self.bands = resolve_bands(bands)
        default_mean, default_std = FMOW_SENTINEL_DEO10.tensors(RGB)
        self.rgb_bands = resolve_bands(list(rgb_bands))
        band_indices(self.bands, self.rgb_bands)  # the RGB bands must be among the input's
        mean = torch.tensor(rgb_mean) if rgb_mean is not None else default_mean
        std = torch.tensor(rgb_std) if rgb_std is not None else default_std
        self.register_buffer('rgb_mean', mean.float().view(1, 3, 1, 1), persistent=False)
        self.register_buffer('rgb_std', std.float().view(1, 3, 1, 1), persistent=False)
        self.num_global, self.global_size, self.global_scale = num_global, global_size, global_scale
        self.num_local, self.local_size, self.local_scale = num_local, local_size, local_scale
        self.flip_p = flip_p
        self.interpolation = interpolation
        self.dn_scale = dn_scale
        self.multi_date = multi_date
        #: ``[G, B]`` dates of the last multi-date batch's global views (``None`` for one date).
        self.last_dates: Tensor | None = None
        if ops is None:
            ops = deo_ops(num_global, rgb_bands=self.rgb_bands, photometric=photometric,
                          jitter=jitter, jitter_p=jitter_p, grayscale_p=grayscale_p,
                          global_blur_p=global_blur_p, global_solarize_p=global_solarize_p,
                          local_blur_p=local_blur_p, blur_sigma=blur_sigma,
                          blur_kernel_size=blur_kernel_size)  # fmt: skip
        self.ops = nn.ModuleList(ops)
        for entry in self.ops:
            entry.check(num_global)
            band_indices(self.bands, entry.bands)  # every band an entry names is in the input
            if entry.units == 'unit' and entry.bands != self.rgb_bands:
                raise ValueError(
                    f'units: unit is the RGB bands {list(self.rgb_bands)} in [0, 1]; an entry on '
                    f'{list(entry.bands)} needs units reflectance or standardized.'
                )
        #: Per entry, the input channels it reads (found once, not per batch).
        self._channels = [_index(band_indices(self.bands, entry.bands)) for entry in self.ops]
        self.band_stats: dict[str, tuple[float, float]] | None = None
        #: Per entry, ``[2, 1, C, 1, 1]`` reflectance mean and std of its bands (set_band_stats),
        #: kept on the device of the last batch: no host-to-device copy per batch.
        self._reflectance: list[Tensor | None] = [None] * len(self.ops)

    @property
    def needs_band_stats(self) -> bool:
        """Whether some entry works in ``reflectance`` units."""
        return any(entry.units == 'reflectance' for entry in self.ops)

    def set_band_stats(self, normalization: Mapping[str, Sequence[float]]) -> None:
        """The data's per-band ``[mean, std]`` (raw units), as a data module standardised it."""
        missing = [b for b in self.bands if b not in normalization]
        if missing:
            raise MissingBandError(f'The band statistics lack {missing} of {list(self.bands)}.')
        self.band_stats = {
            b: (float(normalization[b][0]), float(normalization[b][1])) for b in self.bands
        }
        self._reflectance = [
            torch.tensor([self.band_stats[b] for b in entry.bands]).T.reshape(2, 1, -1, 1, 1)
            / self.dn_scale
            for entry in self.ops
        ]

    @torch.no_grad()
    def forward(self, images: Tensor) -> MultiCropViews:
        """Crop and augment ``images`` ``[B, C, H, W]`` (channels in ``self.bands`` order).

        Runs in float32 even under autocast: resampling and photometric ops are cheap next to
        the networks, and bf16 would quantise the pixel values.
        """
        with torch.autocast(device_type=images.device.type, enabled=False):
            return self._forward(images)

    def _forward(self, images: Tensor) -> MultiCropViews:
        if images.ndim not in (4, 5) or images.shape[-3] != len(self.bands):
            raise ValueError(
                f'MultiCrop expects [B, {len(self.bands)}, H, W] (or [B, T, {len(self.bands)}, H, '
                f'W], T dates) with bands {list(self.bands)}, got {tuple(images.shape)}.'
            )
        images = images.float()
        dates = self._dates(images) if images.ndim == 5 else None
        views = view_names(self.num_global)
        global_views = self._crops(images, self.num_global, self.global_size, self.global_scale,
                                   dates)  # fmt: skip
        for g in range(self.num_global):
            self._augment(global_views[g], views[g])
        if self.num_local:
            local_dates = None if dates is None else dates[_cycle(self.num_local, self.num_global)]
            local_views = self._crops(images, self.num_local, self.local_size, self.local_scale,
                                      local_dates)  # fmt: skip
            self._augment(local_views.flatten(0, 1), 'local')
        else:
            shape = (images.shape[0], len(self.bands), self.local_size, self.local_size)
            local_views = images.new_zeros(0, *shape)
        self.last_dates = dates
        return MultiCropViews(global_views, local_views)

    def _dates(self, images: Tensor) -> Tensor:
        """``[G, B]``: the date each global view of each sample is cropped from.

        With ``multi_date``, a random order of each sample's dates, one per global view (repeating
        past ``T``): views of one place in different seasons are positives, as in SeCo and
        SSL4EO-S12. Without, one random date per sample for all its views.
        """
        batch, num_dates = images.shape[:2]
        order = torch.rand(batch, num_dates, device=images.device).argsort(dim=1)
        if not self.multi_date:
            return order[:, :1].T.expand(self.num_global, -1)
        return order[:, _cycle(self.num_global, num_dates)].T

    def _crops(
        self,
        images: Tensor,
        count: int,
        size: int,
        scale: tuple[float, float],
        dates: Tensor | None = None,
    ) -> Tensor:
        """``count`` crops of each image, ``[count, B, C, size, size]``; of a multi-date batch
        ``[B, T, C, H, W]``, crop ``k`` of sample ``b`` from date ``dates[k, b]``."""
        batch, height, width = images.shape[0], *images.shape[-2:]
        boxes = sample_crop_boxes(count * batch, height, width, scale, device=images.device)
        boxes = boxes.view(count, batch, 4)
        flips = torch.rand(count, batch, device=images.device) < self.flip_p
        if dates is None:
            return crop_resize(images, boxes, flips, size, self.interpolation)
        rows = torch.arange(batch, device=images.device)
        return torch.cat([
            crop_resize(images[rows, dates[k]], boxes[k : k + 1], flips[k : k + 1], size,
                        self.interpolation)
            for k in range(count)
        ])  # fmt: skip

    def _augment(self, crops: Tensor, view: str) -> None:
        """Run every entry for ``view`` on ``crops`` ``[N, C, h, w]``, in place (fresh crops)."""
        for number, (entry, index) in enumerate(zip(self.ops, self._channels, strict=True)):
            if not entry.applies_to(view):
                continue
            to_units, from_units = self._units(number, crops.device)
            crops[:, index] = from_units(entry(to_units(crops[:, index])))

    def _units(self, number: int, device: torch.device) -> tuple[Callable, Callable]:
        """Into and out of the units of entry ``number``, for its bands."""
        entry = self.ops[number]
        if entry.units == 'standardized':
            return _same, _same
        if entry.units == 'unit':
            mean, std = self.rgb_mean, self.rgb_std

            def to_unit(x: Tensor) -> Tensor:
                rgb = x * std + mean
                peak = rgb.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
                return (rgb / peak).clamp(0, 1)

            return to_unit, lambda rgb: (rgb - mean) / std
        stats = self._reflectance[number]
        if stats is None:
            raise RuntimeError(
                f'An augmentation entry on {list(entry.bands)} works in reflectance units, which '
                'needs the band statistics the data was standardised with: call '
                'MultiCrop.set_band_stats(datamodule.normalization) (the pretraining module does '
                'so with its data module).'
            )
        if stats.device != device:
            stats = self._reflectance[number] = stats.to(device)
        mean, std = stats
        return (lambda x: x * std + mean), (lambda x: (x - mean) / std)


def deo_ops(
    num_global: int,
    rgb_bands: Sequence[str] = RGB,
    photometric: bool = True,
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.2, 0.1),
    jitter_p: float = 0.8,
    grayscale_p: float = 0.2,
    global_blur_p: Sequence[float] = (1.0, 0.1),
    global_solarize_p: Sequence[float] = (0.0, 0.2),
    local_blur_p: float = 0.5,
    blur_sigma: tuple[float, float] = (0.1, 2.0),
    blur_kernel_size: int = 23,
) -> list[ViewOps]:
    """DEO's RGB augmentation as entries (PAPER.md §2.8): jitter, grayscale and blur on every
    view, with blur probability per global view, and solarize on the views whose probability is
    above 0. Without ``photometric``, one entry without ops keeps the per-crop RGB scaling."""
    if not photometric:
        return [ViewOps([], rgb_bands, 'all', 'unit')]

    def entry(view: str, blur_p: float, solarize_p: float) -> ViewOps:
        ops: list[nn.Module] = [
            ColorJitter(*jitter, p=jitter_p),
            RandomGrayscale(grayscale_p),
            RandomGaussianBlur(blur_p, blur_kernel_size, blur_sigma),
        ]
        if solarize_p > 0:
            ops.append(RandomSolarize(solarize_p))
        return ViewOps(ops, rgb_bands, view, 'unit')

    entries = [
        entry(f'global{g}', _pick(global_blur_p, g), _pick(global_solarize_p, g))
        for g in range(num_global)
    ]
    return [*entries, entry('local', local_blur_p, 0.0)]


def _cycle(count: int, period: int) -> list[int]:
    return [k % period for k in range(count)]


def _same(x: Tensor) -> Tensor:
    return x


def _index(indices: list[int]) -> slice | list[int]:
    """A slice where the channels are consecutive (a view, no gather), else the list."""
    start = indices[0]
    return (
        slice(start, start + len(indices))
        if indices == list(range(start, start + len(indices)))
        else indices
    )


def _pick(values: Sequence[float], index: int) -> float:
    return values[min(index, len(values) - 1)]
