"""The on-disk writers: one per layout (eurosat/, oscd/, segmentation/, pretrain/).

The layouts themselves are documented in :mod:`dtcd.data.synthetic`. Each scene draws from its
own ``numpy.random.default_rng([seed, dataset, index])`` (:func:`_rng`), so presets nest and no
two scenes share a random stream.

The HR RGB stores top-of-atmosphere reflectance linearly: ``uint8 = DN / HR_RGB_FULL_SCALE_DN *
255``, so that averaging it back to 10 m gives Sentinel-2's B04, B03, B02 digital numbers.
GeoTIFFs carry an EPSG:32632 (UTM 32N) transform with 10 m pixels. No writer stores a timestamp,
so the same seed gives the same bytes.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image

from dtcd.bands import EUROSAT13, S2_L1C_13, band_indices
from dtcd.data.specs import (
    EUROSAT_BASE_DIR,
    EUROSAT_CLASSES,
    LAND_COVER_CLASSES,
    OSCD_IMAGES,
    oscd_labels,
)
from dtcd.data.synthetic.change import _oscd_pair
from dtcd.data.synthetic.grid import HR_FACTOR, _block_majority
from dtcd.data.synthetic.materials import _COVER
from dtcd.data.synthetic.recipes import _EUROSAT_RECIPES, _landscape
from dtcd.data.synthetic.sensor import _scene

#: Coordinate reference system written into every GeoTIFF.
CRS = 'EPSG:32632'
PIXEL_M = 10.0


def _rng(seed: int, *keys: int) -> np.random.Generator:
    """The scene's own generator: scenes never share random streams, so presets nest."""
    return np.random.default_rng([seed, *keys])


def _origin(rng: np.random.Generator) -> tuple[float, float]:
    """Upper-left corner of a tile somewhere in UTM zone 32N (northern Italy to Denmark)."""
    return 300000.0 + 640.0 * rng.integers(0, 600), 5000000.0 + 640.0 * rng.integers(0, 1000)


def _write_tif(
    path: Path,
    array: np.ndarray,
    origin: tuple[float, float],
    descriptions: tuple[str, ...] | None = None,
    compress: bool = True,
) -> None:
    """A georeferenced GeoTIFF [C, H, W]; GDAL writes no timestamp, so bytes are reproducible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        'driver': 'GTiff',
        'width': array.shape[2],
        'height': array.shape[1],
        'count': array.shape[0],
        'dtype': array.dtype.name,
        'crs': CRS,
        'transform': rasterio.Affine(PIXEL_M, 0.0, origin[0], 0.0, -PIXEL_M, origin[1]),
    }
    if compress:
        profile |= {'compress': 'deflate', 'predictor': 2}
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(array)
        for i, name in enumerate(descriptions or (), start=1):
            dst.set_band_description(i, name)


def _write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, compress_level=1)


def _split_sizes(n: int, fractions: tuple[float, float, float]) -> dict[str, int]:
    """Train/val/test counts of ``n`` items, each split non-empty."""
    val = max(1, round(n * fractions[1]))
    test = max(1, round(n * fractions[2]))
    return {'train': n - val - test, 'val': val, 'test': test}


@dataclass(frozen=True)
class DatasetSummary:
    """What was written for one dataset."""

    name: str
    splits: dict[str, int]
    size: str
    classes: tuple[str, ...] = ()

    def format(self) -> str:
        counts = ', '.join(f'{k} {v}' for k, v in self.splits.items())
        line = f'  {self.name:<13} {counts}; {self.size}'
        return line + (
            f'; {len(self.classes)} classes: {", ".join(self.classes)}' if self.classes else ''
        )


def _eurosat(out: Path, seed: int, per_class: int) -> DatasetSummary:
    """EuroSAT: one scene per file, dominated by its class, split 60/20/20 per class."""
    order = band_indices(S2_L1C_13, EUROSAT13)
    sizes = _split_sizes(per_class, (0.6, 0.2, 0.2))
    split_of = ['train'] * sizes['train'] + ['val'] * sizes['val'] + ['test'] * sizes['test']
    lists: dict[str, list[str]] = {s: [] for s in sizes}
    for label, name in enumerate(EUROSAT_CLASSES):
        splits = _rng(seed, 4, label).permutation(split_of)
        for i in range(per_class):
            rng = _rng(seed, 0, label, i)
            _, ms, _ = _scene(rng, _EUROSAT_RECIPES[name], 64)
            stem = f'{name}_{i + 1}'
            _write_tif(out / EUROSAT_BASE_DIR / name / f'{stem}.tif', ms[order], _origin(rng))
            lists[str(splits[i])].append(f'{stem}.jpg')
    for split, names in lists.items():
        (out / f'eurosat-{split}.txt').write_text(''.join(f'{n}\n' for n in names))
    counts = {s: len(v) for s, v in lists.items()}
    return DatasetSummary('eurosat', counts, '64x64 px, 13 bands (B8A last)', EUROSAT_CLASSES)


def _segmentation(out: Path, seed: int, n: int, size: int) -> DatasetSummary:
    """Per-pixel land cover on mixed landscapes."""
    sizes = _split_sizes(n, (0.6, 0.2, 0.2))
    index = 0
    for split, count in sizes.items():
        for _ in range(count):
            rng = _rng(seed, 1, index)
            canvas, ms, _ = _scene(rng, _landscape, size)
            mask = _block_majority(_COVER[canvas.material_map()], len(LAND_COVER_CLASSES))
            origin = _origin(rng)
            _write_tif(out / split / 'images' / f'{index:05d}.tif', ms, origin, S2_L1C_13)
            _write_tif(out / split / 'masks' / f'{index:05d}.tif', mask[None], origin, ('class',))
            index += 1
    return DatasetSummary('segmentation', sizes, f'{size}x{size} px, 13 bands', LAND_COVER_CLASSES)


def _pretrain(out: Path, seed: int, n: int, size: int) -> DatasetSummary:
    """Unlabelled MS tiles of every scene type, each with its HR RGB."""
    recipes = [*_EUROSAT_RECIPES.values(), _landscape, _landscape]
    rows = []
    for i in range(n):
        rng = _rng(seed, 2, i)
        _, ms, rgb = _scene(rng, recipes[rng.integers(len(recipes))], size)
        tile = f'{i:06d}'
        _write_tif(out / 'ms' / f'{tile}.tif', ms, _origin(rng), S2_L1C_13)
        _write_png(out / 'rgb' / f'{tile}.png', rgb)
        rows.append((tile, f'ms/{tile}.tif', f'rgb/{tile}.png'))
    with open(out / 'index.csv', 'w', newline='') as f:
        writer = csv.writer(f, lineterminator='\n')
        writer.writerow(('id', 'ms', 'rgb'))
        writer.writerows(rows)
    hr = size * HR_FACTOR
    return DatasetSummary('pretrain', {'tiles': n}, f'{size}x{size} px MS + {hr}x{hr} px RGB')


def _oscd(out: Path, seed: int, regions: dict[str, int], size: int) -> DatasetSummary:
    """OSCD: bi-temporal regions, one GeoTIFF per band and date, PNG change maps."""
    images = out / OSCD_IMAGES
    index = 0
    for split, count in regions.items():
        names = []
        for _ in range(count):
            rng = _rng(seed, 3, index)
            region = f'synth{index:02d}'
            ms1, ms2, mask = _oscd_pair(rng, size)
            origin = _origin(rng)
            for date, ms in ((1, ms1), (2, ms2)):
                for band, plane in zip(S2_L1C_13, ms, strict=True):
                    path = images / region / f'imgs_{date}_rect' / f'{band}.tif'
                    _write_tif(path, plane[None], origin, compress=False)
            year = 2016 + int(rng.integers(0, 2))
            (images / region / 'dates.txt').write_text(
                f'date_1: {year}{rng.integers(1, 6):02d}15\n'
                f'date_2: {year + 1}{rng.integers(6, 13):02d}15\n'
            )
            labels = out / oscd_labels(split)
            _write_png(labels / region / 'cm' / 'cm.png', mask.astype(np.uint8) * 255)
            names.append(region)
            index += 1
        images.mkdir(parents=True, exist_ok=True)
        (images / f'{split}.txt').write_text(','.join(names) + '\n')
    return DatasetSummary(
        'oscd', dict(regions), f'{size}x{size} px, 2 dates x 13 bands', ('no change', 'change')
    )
