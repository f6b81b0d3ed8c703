"""Per-op cost of the augmentation: Kornia's batched ops against dtcd's, on the same batch.

Why dtcd does not use Kornia for multi-crop (DESIGN.md chose Kornia first): its
``RandomResizedCrop`` crops and resizes image by image, and its ``ColorJitter`` goes through HSV.
The EO ops of :mod:`dtcd.augment.spectral` are timed beside their nearest Kornia ops
(``RandomGaussianNoise``; ``RandomChannelDropout`` drops a fixed number of channels, dtcd's
``BandDropout`` a random subset; Kornia has no gain / offset op).
This prints one Markdown table row per op, median milliseconds after a warm-up, so a change to
``dtcd.augment`` can be checked against the alternatives. Default sizes are DEO's: 8 images of
10 bands at 256 px, 2 × 224 + 10 × 96 crops, photometric ops on the RGB of the 16 global crops.

Usage: ``python -m benchmarks.augment_micro [--batch-size 8 --reps 3 --device cpu]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from dtcd.augment import MultiCrop, crop_resize, sample_crop_boxes
from dtcd.augment.photometric import (
    color_jitter,
    random_gaussian_blur,
    random_grayscale,
    random_solarize,
)
from dtcd.augment.spectral import BandDropout, BandGainOffset, SpectralNoise


def bench(fn: Callable[[], object], device: torch.device, reps: int, warmup: int = 1) -> float:
    """Median milliseconds of ``fn`` over ``reps`` runs after ``warmup``."""
    times = []
    for i in range(warmup + reps):
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def dtcd_crops(images: Tensor, count: int, size: int, scale: tuple[float, float], mode: str):
    """dtcd's crops: one ``grid_sample`` for all ``count`` crops of each image."""
    batch, _, height, width = images.shape
    boxes = sample_crop_boxes(count * batch, height, width, scale, device=images.device)
    flips = torch.rand(count, batch, device=images.device) < 0.5
    return crop_resize(images, boxes.view(count, batch, 4), flips, size, mode)


def roi_crops(images: Tensor, count: int, size: int, scale: tuple[float, float]) -> Tensor:
    """torchvision ``roi_align`` (bilinear, one sample per bin) on the same kind of boxes."""
    from torchvision.ops import roi_align

    batch, _, height, width = images.shape
    boxes = sample_crop_boxes(count * batch, height, width, scale, device=images.device)
    x0, y0, w, h = boxes.unbind(-1)
    index = torch.arange(batch, device=images.device).repeat(count).to(images.dtype)
    rois = torch.stack([index, x0, y0, x0 + w, y0 + h], dim=1)
    return roi_align(images, rois, size, sampling_ratio=1, aligned=True)


def main(argv: Sequence[str] | None = None) -> list[tuple[str, float, float]]:
    """Print the per-op table; return ``(op, kornia ms, dtcd ms)`` rows."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--image-size', type=int, default=256)
    parser.add_argument('--num-local', type=int, default=10)
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--skip-kornia', action='store_true', help='dtcd columns only')
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(0)
    b, size = args.batch_size, args.image_size
    images = torch.randn(b, 10, size, size, device=device)
    rgb = torch.rand(2 * b, 3, 224, 224, device=device)
    spectral = torch.rand(2 * b, 10, 224, 224, device=device)  # global crops, all bands
    local_rgb = torch.rand(args.num_local * b, 3, 96, 96, device=device)
    local, glob = (0.05, 0.4), (0.4, 1.0)

    kornia_ops: dict[str, Callable[[], object]] = {}
    if not args.skip_kornia:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            import kornia.augmentation as K

        local_rrc = K.RandomResizedCrop((96, 96), scale=local, resample='BICUBIC').to(device)
        global_rrc = K.RandomResizedCrop((224, 224), scale=glob, resample='BICUBIC').to(device)
        jitter = K.ColorJitter(0.4, 0.4, 0.2, 0.1, p=0.8).to(device)
        gray = K.RandomGrayscale(p=0.2).to(device)
        blur = K.RandomGaussianBlur((23, 23), (0.1, 2.0), p=1.0).to(device)
        solarize = K.RandomSolarize(thresholds=0.0, additions=0.0, p=0.2).to(device)
        noise = K.RandomGaussianNoise(std=0.003, p=0.5).to(device)
        dropout = K.RandomChannelDropout(num_drop_channels=3, p=0.5).to(device)
        kornia_ops = {
            f'{args.num_local} local crops 96², 10 bands, bicubic': lambda: [
                local_rrc(images) for _ in range(args.num_local)
            ],
            '2 global crops 224², 10 bands, bicubic': lambda: [
                global_rrc(images) for _ in range(2)
            ],
            'colour jitter p=0.8, global RGB': lambda: jitter(rgb),
            'grayscale p=0.2, global RGB': lambda: gray(rgb),
            'blur 23 px p=1, global RGB': lambda: blur(rgb),
            'blur 23 px p=1, local RGB': lambda: blur(local_rgb),
            'solarize p=0.2, global RGB': lambda: solarize(rgb),
            'noise p=0.5, global 10 bands': lambda: noise(spectral),
            'band dropout p=0.5, global 10 bands': lambda: dropout(spectral),
        }
    n = args.num_local
    multicrop = MultiCrop(num_local=n).to(device)

    def crops(count: int, size: int, scale: tuple[float, float], mode: str, bands: int = 10):
        return lambda: dtcd_crops(images[:, :bands], count, size, scale, mode)

    dtcd_ops: dict[str, Callable[[], object]] = {
        f'{n} local crops 96², 10 bands, bicubic': crops(n, 96, local, 'bicubic'),
        f'{n} local crops 96², 10 bands, bilinear': crops(n, 96, local, 'bilinear'),
        f'{n} local crops 96², 3 bands, bicubic': crops(n, 96, local, 'bicubic', bands=3),
        f'{n} local crops 96², 10 bands, roi_align': lambda: roi_crops(images, n, 96, local),
        '2 global crops 224², 10 bands, bicubic': crops(2, 224, glob, 'bicubic'),
        '2 global crops 224², 10 bands, bilinear': crops(2, 224, glob, 'bilinear'),
        'colour jitter p=0.8, global RGB': lambda: color_jitter(rgb, 0.4, 0.4, 0.2, 0.1, p=0.8),
        'grayscale p=0.2, global RGB': lambda: random_grayscale(rgb, 0.2),
        'blur 23 px p=1, global RGB': lambda: random_gaussian_blur(rgb, 1.0),
        'blur 23 px p=1, local RGB': lambda: random_gaussian_blur(local_rgb, 1.0),
        'solarize p=0.2, global RGB': lambda: random_solarize(rgb, 0.2),
        'noise p=0.5, global 10 bands': lambda: SpectralNoise(0.003, p=0.5).to(device)(spectral),
        'band dropout p=0.5, global 10 bands': lambda: BandDropout(p=0.5)(spectral),
        'band gain / offset p=0.5, global 10 bands': lambda: BandGainOffset()(spectral),
        f'whole MultiCrop (2 × 224 + {n} × 96)': lambda: multicrop(images),
    }

    load = ' '.join(f'{x:.2f}' for x in os.getloadavg())
    print(
        f'batch {b} × 10 bands × {size}², device {device}, torch threads '
        f'{torch.get_num_threads()}, load average {load}; median of {args.reps} after 1 warm-up'
    )
    print('| op | Kornia ms | dtcd ms | Kornia / dtcd |')
    print('|---|---:|---:|---:|')
    rows = []
    for name in dict.fromkeys([*kornia_ops, *dtcd_ops]):
        k = bench(kornia_ops[name], device, args.reps) if name in kornia_ops else float('nan')
        d = bench(dtcd_ops[name], device, args.reps) if name in dtcd_ops else float('nan')
        ratio = f'{k / d:.1f}x' if k == k and d == d else '–'
        cells = [f'{v:.1f}' if v == v else '–' for v in (k, d)]
        print(f'| {name} | {cells[0]} | {cells[1]} | {ratio} |', flush=True)
        rows.append((name, k, d))
    return rows


if __name__ == '__main__':
    main()
