"""The reference's per-sample multi-crop (PAPER.md §2.8), for timing against dtcd's batched one.

Written from the paper's description, not from the authors' code: every sample is cropped and
jittered on its own with torchvision.transforms.v2, as a DataLoader worker would do it. Geometry
(RandomResizedCrop, bicubic, and horizontal flip) acts on all bands at once; the RGB bands are
brought back to [0, 1], divided by the crop's RGB maximum, jittered, grayscaled, blurred (and
solarized on the second global view) with the per-view probabilities, then standardised again and
put back among the other bands. Input and output match :class:`dtcd.augment.MultiCrop`, so both
can be timed on the same batch and device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchvision.transforms import v2

from dtcd.augment import MultiCropViews
from dtcd.bands import DEO10, FMOW_SENTINEL_DEO10, RGB, band_indices, resolve_bands


class ReferenceMultiCrop:
    """Per-sample DINO-style multi-crop with RGB-only photometric ops (the reference approach).

    Args:
        bands: Band names of the input channels.
        num_global: Global crops per image.
        global_size: Global crop side.
        num_local: Local crops per image.
        local_size: Local crop side.
        global_scale: Area share range of global crops.
        local_scale: Area share range of local crops.
        blur_kernel_size: Gaussian blur kernel side.
        blur_sigma: Range of the Gaussian blur σ in pixels.
    """

    def __init__(
        self,
        bands: str | Sequence[str] = DEO10,
        num_global: int = 2,
        global_size: int = 224,
        num_local: int = 10,
        local_size: int = 96,
        global_scale: tuple[float, float] = (0.4, 1.0),
        local_scale: tuple[float, float] = (0.05, 0.4),
        blur_kernel_size: int = 23,
        blur_sigma: tuple[float, float] = (0.1, 2.0),
    ) -> None:
        self.bands = resolve_bands(bands)
        self.rgb_index = band_indices(self.bands, RGB)
        mean, std = FMOW_SENTINEL_DEO10.tensors(RGB)
        self.rgb_mean, self.rgb_std = mean.view(3, 1, 1), std.view(3, 1, 1)
        self.num_global, self.num_local = num_global, num_local
        bicubic = v2.InterpolationMode.BICUBIC

        def geometry(size: int, scale: tuple[float, float]) -> v2.Compose:
            return v2.Compose(
                [
                    v2.RandomResizedCrop(size, scale=scale, interpolation=bicubic),
                    v2.RandomHorizontalFlip(0.5),
                ]
            )

        def photometric(blur_p: float, solarize_p: float) -> v2.Compose:
            kernel = min(blur_kernel_size, 2 * (min(global_size, local_size) // 2) - 1)
            ops = [
                v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
                v2.RandomGrayscale(0.2),
                v2.RandomApply([v2.GaussianBlur(kernel, sigma=blur_sigma)], p=blur_p),
            ]
            if solarize_p > 0:
                ops.append(v2.RandomSolarize(0.5, p=solarize_p))
            return v2.Compose(ops)

        self.global_geometry = geometry(global_size, global_scale)
        self.local_geometry = geometry(local_size, local_scale)
        # DEO: blur p = 1 on global view 1; p = 0.1 plus solarize p = 0.2 on view 2; 0.5 on locals.
        self.global_photometric = [photometric(1.0, 0.0), photometric(0.1, 0.2)]
        self.local_photometric = photometric(0.5, 0.0)

    def _view(self, image: Tensor, geometry: v2.Compose, photometric: v2.Compose) -> Tensor:
        crop = geometry(image)
        rgb = crop[self.rgb_index] * self.rgb_std.to(crop) + self.rgb_mean.to(crop)
        rgb = (rgb / rgb.amax().clamp_min(1e-6)).clamp(0, 1)
        rgb = photometric(rgb)
        out = crop.clone()
        out[self.rgb_index] = (rgb - self.rgb_mean.to(crop)) / self.rgb_std.to(crop)
        return out

    @torch.no_grad()
    def __call__(self, images: Tensor) -> MultiCropViews:
        """Crop and augment each image of ``images`` ``[B, C, H, W]`` on its own."""
        global_views, local_views = [], []
        for image in images.float():
            global_views.append(
                [
                    self._view(image, self.global_geometry, self.global_photometric[min(g, 1)])
                    for g in range(self.num_global)
                ]
            )
            local_views.append(
                [
                    self._view(image, self.local_geometry, self.local_photometric)
                    for _ in range(self.num_local)
                ]
            )
        # Collate view-major, as MultiCrop returns them.
        glob = torch.stack([torch.stack(views) for views in global_views], dim=1)
        if self.num_local:
            loc = torch.stack([torch.stack(views) for views in local_views], dim=1)
        else:
            loc = images.new_zeros(0, *images.shape[:2], 1, 1)
        return MultiCropViews(glob, loc)
