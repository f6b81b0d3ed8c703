"""Dataset classes TorchGeo lacks, written in TorchGeo's conventions.

Both read the SynthEO layouts documented in :mod:`dtcd.data.synthetic`; real data converted to the
same layout loads the same way. Samples are TorchGeo-style dicts of float32 images in the
requested band order (bands are matched by name, never by position).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
import rasterio
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torchgeo.datasets import DatasetNotFoundError, NonGeoDataset

from dtcd.bands import (
    DEO10,
    DEO_HDF5_13,
    RGB,
    S2_L1C_13,
    band_indices,
    reindex,
    resolve_bands,
)
from dtcd.data.specs import HR_RGB_FULL_SCALE_DN, LAND_COVER_CLASSES

__all__ = ['DEOHDF5', 'PairedMSRGB', 'SynthEOSegmentation']

Transforms = Callable[[dict[str, Tensor]], dict[str, Tensor]]


@contextmanager
def _reading(path: str | Path) -> Iterator[None]:
    """Name the whole path and the fix when a file cannot be read (GDAL names only its basename).

    The error keeps its type (``RasterioIOError``, PIL's ``UnidentifiedImageError``, ...).
    """
    try:
        yield
    except (rasterio.errors.RasterioError, OSError) as err:
        raise type(err)(
            f'Cannot read {path}: {err}. It is missing, truncated or corrupt (an interrupted '
            'download or copy?): download, copy or generate it again.'
        ) from err


def _read_bands(path: str | Path, fallback: Sequence[str]) -> tuple[Tensor, tuple[str, ...]]:
    """A GeoTIFF as float32 [C, H, W] and its band names (band descriptions, else ``fallback``)."""
    with _reading(path), rasterio.open(path) as src:
        array = src.read().astype(np.float32)
        names = tuple(src.descriptions)
    if any(name is None for name in names):
        names = tuple(fallback)
    return torch.from_numpy(array), names


class SynthEOSegmentation(NonGeoDataset):
    """Per-pixel land cover: ``root/<split>/images/<id>.tif`` with ``root/<split>/masks/<id>.tif``.

    Images are uint16 Sentinel-2 digital numbers whose band descriptions name the bands; masks are
    uint8 ids into :attr:`classes`.
    """

    classes = LAND_COVER_CLASSES
    all_band_names = S2_L1C_13
    splits = ('train', 'val', 'test')

    def __init__(
        self,
        root: str | Path = 'data',
        split: str = 'train',
        bands: Sequence[str] = S2_L1C_13,
        transforms: Transforms | None = None,
    ) -> None:
        """Index one split.

        Args:
            root: Directory holding the split folders.
            split: One of ``'train'``, ``'val'``, ``'test'``.
            bands: Bands to return, in this order.
            transforms: Applied to each sample dict.

        Raises:
            DatasetNotFoundError: When ``root/<split>/images`` does not exist.
            ValueError: For an unknown split or band.
        """
        if split not in self.splits:
            raise ValueError(f'split must be one of {self.splits}, got {split!r}.')
        self.root = root
        self.split = split
        self.bands = resolve_bands(bands)
        self.transforms = transforms
        images = Path(root, split, 'images')
        if not images.is_dir():
            raise DatasetNotFoundError(self)
        self.images = sorted(images.glob('*.tif'))
        self.masks = [Path(root, split, 'masks', p.name) for p in self.images]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """``{'image': float32 [C, H, W], 'mask': int64 [H, W]}``."""
        image, names = _read_bands(self.images[index], self.all_band_names)
        with _reading(self.masks[index]), rasterio.open(self.masks[index]) as src:
            mask = torch.from_numpy(src.read(1).astype(np.int64))
        sample = {'image': reindex(image, names, self.bands), 'mask': mask}
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample


def hr_to_dn(rgb_hr: np.ndarray) -> np.ndarray:
    """8-bit HR RGB as float32 Sentinel-2 digital numbers (255 ↔ :data:`HR_RGB_FULL_SCALE_DN`)."""
    return rgb_hr.astype(np.float32) * (HR_RGB_FULL_SCALE_DN / 255)


class PairedMSRGB(NonGeoDataset):
    """Multispectral tiles paired with high-resolution RGB, as DEO pretrains on.

    Layout: ``root/index.csv`` with columns ``id``, ``ms``, ``rgb`` (paths relative to ``root``);
    ``ms`` is a uint16 GeoTIFF whose band descriptions name its bands, ``rgb`` an 8-bit RGB image
    at an integer multiple of the MS resolution, or empty where no HR image exists.

    With ``rgb_mode='hr'`` the B04, B03, B02 channels are replaced, as DEO does, by the HR RGB
    averaged down to the MS grid and scaled to digital numbers (255 ↔
    :data:`~dtcd.data.specs.HR_RGB_FULL_SCALE_DN`); tiles without an HR image keep their own.
    """

    all_band_names = S2_L1C_13

    def __init__(
        self,
        root: str | Path = 'data',
        bands: Sequence[str] = DEO10,
        rgb_mode: Literal['hr', 's2'] = 'hr',
        return_hr: bool = False,
        transforms: Transforms | None = None,
    ) -> None:
        """Read the index.

        Args:
            root: Directory holding ``index.csv``.
            bands: Bands to return, in this order.
            rgb_mode: ``'hr'`` takes B04, B03, B02 from the HR image, ``'s2'`` keeps Sentinel-2's.
            return_hr: Also return the full HR RGB as ``'rgb_hr'`` (float32 [3, kH, kW], digital
                numbers); only for tiles that have one.
            transforms: Applied to each sample dict.

        Raises:
            DatasetNotFoundError: When ``root/index.csv`` does not exist.
            ValueError: For an unknown ``rgb_mode`` or band.
        """
        if rgb_mode not in ('hr', 's2'):
            raise ValueError(f"rgb_mode must be 'hr' or 's2', got {rgb_mode!r}.")
        self.root = root
        self.bands = resolve_bands(bands)
        self.rgb_mode = rgb_mode
        self.return_hr = return_hr
        self.transforms = transforms
        index = Path(root, 'index.csv')
        if not index.is_file():
            raise DatasetNotFoundError(self)
        with open(index, newline='') as f:
            self.rows = list(csv.DictReader(f))

    def __len__(self) -> int:
        return len(self.rows)

    def _load_hr(self, relative: str) -> Tensor:
        """The HR RGB as float32 [3, kH, kW] in Sentinel-2 digital numbers."""
        path = os.path.join(self.root, relative)
        with _reading(path), Image.open(path) as img:
            rgb = np.asarray(img.convert('RGB'))
        return torch.from_numpy(hr_to_dn(rgb)).permute(2, 0, 1)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """``{'image': float32 [C, H, W]}`` plus ``'rgb_hr'`` when asked for and available."""
        row = self.rows[index]
        image, names = _read_bands(os.path.join(self.root, row['ms']), self.all_band_names)
        sample: dict[str, Any] = {}
        if row['rgb'] and (self.return_hr or self.rgb_mode == 'hr'):
            hr = self._load_hr(row['rgb'])
            if self.rgb_mode == 'hr':
                low = F.interpolate(hr[None], size=image.shape[-2:], mode='area')[0]
                image = image.clone()
                image[band_indices(names, RGB)] = low
            if self.return_hr:
                sample['rgb_hr'] = hr
        sample['image'] = reindex(image, names, self.bands)
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample


class DEOHDF5(NonGeoDataset):
    """The single HDF5 file the DEO authors pretrain from: one array of multispectral tiles.

    The array (``key``, ``'images'`` in DEO) is ``[N, C, H, W]`` (``layout='nchw'``) or
    ``[N, H, W, C]`` (``'nhwc'``); ``file_bands`` names its first channels (by default as the
    authors' code names them, :data:`~dtcd.bands.DEO_HDF5_13`, so ``DEO10`` returns their
    channels ``[1, 2, 3, 4, 5, 6, 7, 8, 11, 12]`` in that order); further channels are ignored,
    as their loader ignores them. The file is opened lazily, once per process: an h5py handle
    must not cross a ``fork`` or be pickled to a worker, so each DataLoader worker opens its own.

    ``limit`` keeps a seeded random subset of that many tiles, like the authors'
    ``--data_split 500000``.
    """

    def __init__(
        self,
        root: str | Path = 'data/deo.h5',
        bands: Sequence[str] = DEO10,
        file_bands: Sequence[str] = DEO_HDF5_13,
        layout: Literal['nchw', 'nhwc'] = 'nchw',
        key: str = 'images',
        limit: int | None = None,
        seed: int = 0,
        transforms: Transforms | None = None,
    ) -> None:
        """Check the file's shape against ``file_bands`` and choose the tiles.

        Args:
            root: Path of the HDF5 file.
            bands: Bands to return, in this order.
            file_bands: Names of the file's first channels, in order.
            layout: Axis order of the array.
            key: Name of the array in the file.
            limit: Keep this many tiles (a seeded random subset); ``None`` keeps all.
            seed: Seed of the subset.
            transforms: Applied to each sample dict.

        Raises:
            DatasetNotFoundError: When ``root`` is not a file.
            ValueError: For a missing key, a shape that does not fit ``layout`` and
                ``file_bands``, or a bad ``limit``.
            MissingBandError: When ``bands`` asks for a band ``file_bands`` lacks.
        """
        if layout not in ('nchw', 'nhwc'):
            raise ValueError(f"layout must be 'nchw' or 'nhwc', got {layout!r}.")
        self.root = root
        self.bands = resolve_bands(bands)
        self.file_bands = resolve_bands(file_bands)
        band_indices(self.file_bands, self.bands)  # a missing band fails here, by name
        self.layout, self.key, self.transforms = layout, key, transforms
        if not Path(root).is_file():
            raise DatasetNotFoundError(self)
        with h5py.File(root, 'r') as f:
            if key not in f:
                raise ValueError(f'{root} has no dataset {key!r}; it holds {sorted(f)}.')
            shape = f[key].shape
        channels = shape[1] if layout == 'nchw' else shape[-1]
        other = shape[-1] if layout == 'nchw' else shape[1]
        named = len(self.file_bands)
        if len(shape) != 4 or channels < named or (channels != named and other == named):
            raise ValueError(
                f'{root}:{key} has shape {shape}; layout {layout!r} with {named} file_bands '
                f'{list(self.file_bands)} needs 4 axes and at least {named} channels on the '
                "channel axis. Check `layout`, and name the file's channels in `file_bands`."
            )
        count = shape[0]
        if limit is None:
            self.indices = list(range(count))
        elif 0 < limit <= count:
            order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
            self.indices = sorted(order[:limit].tolist())
        else:
            raise ValueError(f'limit must lie in [1, {count}] (the file has {count} tiles).')
        self._file: h5py.File | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the open handle (spawned workers reopen the file)."""
        state = self.__dict__.copy()
        state['_file'], state['_pid'] = None, None
        return state

    def _array(self) -> h5py.Dataset:
        if self._file is None or self._pid != os.getpid():  # first use, or a forked worker
            self._file, self._pid = h5py.File(self.root, 'r'), os.getpid()
        return self._file[self.key]

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """``{'image': float32 [C, H, W]}`` in ``bands`` order."""
        tile = torch.from_numpy(np.asarray(self._array()[self.indices[index]], dtype=np.float32))
        if self.layout == 'nhwc':
            tile = tile.permute(2, 0, 1)
        tile = tile[: len(self.file_bands)]
        sample = {'image': reindex(tile, self.file_bands, self.bands)}
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample
