"""Pretraining DataModules: unlabelled multispectral tiles, RGB replaced by paired HR RGB.

The CPU side reads, reindexes bands by name and (on the device) normalises; cropping and
photometric augmentation happen later, batched on the device, in :class:`~dtcd.augment.MultiCrop`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset, Subset, default_collate
from torchgeo.datasets import SSL4EOS12

from dtcd.bands import (
    DEO10,
    DEO_HDF5_13,
    FMOW_SENTINEL_DEO10,
    RGB,
    S2_L1C_13,
    S2_L2A_12,
    BandStats,
    band_indices,
    reindex,
    resolve_bands,
)
from dtcd.data.datamodules.base import (
    DTCDDataModule,
    check_val_fraction,
    holdout_size,
    seeded_split,
)
from dtcd.data.datamodules.layout import DatasetLayout
from dtcd.data.datasets import DEOHDF5, PairedMSRGB
from dtcd.data.specs import HR_RGB_FULL_SCALE_DN


def pretrain_stats(rgb_full_scale_dn: float = HR_RGB_FULL_SCALE_DN) -> BandStats:
    """DEO's statistics in digital numbers: RGB ones rescaled from [0, 1] units.

    DEO normalises RGB in [0, 1] (8-bit HR images / 255) with HR statistics, the other bands in
    digital numbers with fMoW-Sentinel statistics; ``rgb_full_scale_dn`` is the digital number
    that RGB 1.0 stands for.
    """
    mean, std = dict(FMOW_SENTINEL_DEO10.mean), dict(FMOW_SENTINEL_DEO10.std)
    for band in RGB:
        mean[band] *= rgb_full_scale_dn
        std[band] *= rgb_full_scale_dn
    return BandStats(mean, std)


def normalize_like_pretraining(images: Tensor, bands: Sequence[str]) -> Tensor:
    """Standardise ``[B, C, H, W]`` digital numbers the way the student saw them in pretraining.

    :class:`~dtcd.augment.MultiCrop` divides each crop's RGB by its maximum and standardises it
    with DEO's [0, 1]-unit RGB statistics; the other bands keep their fMoW-Sentinel
    standardisation. Applying the same per image (without augmentation) gives frozen-feature
    probes the input distribution the features were learnt on.
    """
    rgb = band_indices(bands, RGB)
    others = [i for i in range(len(bands)) if i not in rgb]
    x = images.float().clone()
    peak = x[:, rgb].amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    mean, std = FMOW_SENTINEL_DEO10.tensors(RGB)
    x[:, rgb] = (x[:, rgb] / peak - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    if others:
        names = [bands[i] for i in others]
        mean, std = FMOW_SENTINEL_DEO10.tensors(names)
        x[:, others] = (x[:, others] - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
    return x


def holdout(dataset: Dataset, val_fraction: float, seed: int) -> list[Subset]:
    """Train and validation parts of ``dataset``: a seeded random ``val_fraction`` (>= 1 item).

    As ``torch.utils.data.random_split``: the train part first, both in the drawn order.
    """
    count = len(dataset)  # type: ignore[arg-type]
    if count < 2:
        raise ValueError(f'Need at least 2 pretraining tiles for train and val, found {count}.')
    num_val = holdout_size(count, val_fraction)
    return seeded_split(dataset, [count - num_val, num_val], seed, sort=False)


class _OnHRGrid:
    """Upsample the MS bands to the HR RGB grid and put the full-resolution RGB in."""

    def __init__(self, bands: Sequence[str]) -> None:
        self.rgb = band_indices(bands, RGB)

    def __call__(self, sample: dict[str, Any]) -> dict[str, Tensor]:
        image = sample['image']
        hr = sample.pop('rgb_hr', None)
        if hr is None:
            return sample
        image = F.interpolate(image[None], size=hr.shape[-2:], mode='bilinear')[0]
        image[self.rgb] = hr
        sample['image'] = image
        return sample


class PairedPretrainDataModule(DTCDDataModule):
    """Multispectral tiles paired with high-resolution RGB (SynthEO ``pretrain/``, fMoW pairs).

    Reads the documented :class:`~dtcd.data.PairedMSRGB` layout. Batches are
    ``{'image': [B, C, H, W]}`` in ``bands`` order, normalised with :func:`pretrain_stats`.

    Args:
        root: Folder holding ``index.csv``.
        bands: Band order of the batches (the student's MS stem order).
        rgb_source: ``'hr'`` replaces B04, B03, B02 by the paired HR RGB (DEO), ``'s2'`` keeps
            Sentinel-2's.
        grid: ``'ms'`` averages the HR RGB down to the MS grid; ``'hr'`` upsamples the MS bands to
            the HR grid and keeps the HR detail.
        val_fraction: Share of tiles held out to monitor the losses (at least one tile).
        seed: Seed of the train/val split.
        **kwargs: The loader options of :class:`~dtcd.data.datamodules.base.DTCDDataModule`.
    """

    def __init__(
        self,
        root: str = 'data/synth/pretrain',
        bands: str | Sequence[str] = DEO10,
        rgb_source: Literal['hr', 's2'] = 'hr',
        grid: Literal['ms', 'hr'] = 'ms',
        val_fraction: float = 0.05,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        self.bands = resolve_bands(bands)
        super().__init__(
            PairedMSRGB,
            root=root,
            bands=self.bands,
            rgb_mode=rgb_source,
            return_hr=grid == 'hr' and rgb_source == 'hr',
            transforms=_OnHRGrid(self.bands) if grid == 'hr' and rgb_source == 'hr' else None,
            **kwargs,
        )
        check_val_fraction(val_fraction)
        self.val_fraction, self.seed = val_fraction, seed
        self.set_normalization(self.bands, pretrain_stats())

    def setup(self, stage: str) -> None:
        """Split the tiles into train and a small validation set, reproducibly."""
        dataset = self.dataset_class(**self.kwargs)
        if len(dataset) == 0:
            raise ValueError(
                f'No pretraining tiles listed in {self.kwargs["root"]}/index.csv: add one '
                '`id,ms,rgb` row per tile (layout in dtcd.data.PairedMSRGB), or point '
                '`root` at a folder that has them.'
            )
        self.train_dataset, self.val_dataset = holdout(dataset, self.val_fraction, self.seed)


#: SSL4EO-S12 v1.0 statistics in digital numbers by product level, from the dataset authors
#: (zhu-xlab/SSL4EO-S12, ``src/benchmark/pretrain_ssl/datasets/SSL4EO/ssl4eo_dataset_lmdb.py``,
#: "calculated from 50k data"). TorchGeo's SSL4EOS12DataModule only divides by 10000.
SSL4EO_S12_STATS: dict[str, BandStats] = {
    's2c': BandStats.from_lists(
        S2_L1C_13,
        mean=[
            1605.57504906, 1390.78157673, 1314.8729939, 1363.52445545, 1549.44374991,
            2091.74883118, 2371.7172463, 2299.90463006, 2560.29504086, 830.06605044,
            22.10351321, 2177.07172323, 1524.06546312,
        ],
        std=[
            786.78685367, 850.34818441, 875.06484736, 1138.84957046, 1122.17775652,
            1161.59187054, 1274.39184232, 1248.42891965, 1345.52684884, 577.31607053,
            51.15431158, 1336.09932639, 1136.53823676,
        ],
    ),
    's2a': BandStats.from_lists(
        S2_L2A_12,
        mean=[
            752.40087073, 884.29673756, 1144.16202635, 1297.47289228, 1624.90992062,
            2194.6423161, 2422.21248945, 2517.76053101, 2581.64687018, 2645.51888987,
            2368.51236873, 1805.06846033,
        ],
        std=[
            1108.02887453, 1155.15170768, 1183.6292542, 1368.11351514, 1370.265037,
            1355.55390699, 1416.51487101, 1474.78900051, 1439.3086061, 1582.28010962,
            1455.52084939, 1343.48379601,
        ],
    ),
}  # fmt: skip

SSL4EO_S12_LAYOUT = DatasetLayout(
    'SSL4EO-S12',
    'https://github.com/zhu-xlab/SSL4EO-S12 (also https://hf.co/datasets/wangyi111/SSL4EO-S12; '
    'the s2_l1c / s2_l2a archives)',
    """
    s2c/<location: 0000000, 0000001, ...>/<season>/B1.tif ... B12.tif
        <season> = YYYYMMDDTHHMMSS_YYYYMMDDTHHMMSS_T<tile>, 4 per location;
        L1C: 13 bands (B1..B8, B8A, B9, B10, B11, B12)
    s2a/<location>/<season>/B1.tif ... B12.tif     L2A: 12 bands (no B10)
    """,
)


def ssl4eo_band_name(name: str) -> str:
    """SSL4EO-S12 file band name (``'B1'``, ``'B8A'``) to dtcd's (``'B01'``, ``'B8A'``)."""
    return f'B0{name[1:]}' if len(name) == 2 else name


class _SeasonsAsSamples:
    """Sample transform: TorchGeo's ``[S·C, H, W]`` to ``[S, C, H, W]`` in date order.

    TorchGeo stacks the randomly drawn seasons on the channel axis; sorting them by their
    timestamps ``t`` makes the order reproducible. Only ``image`` is kept.
    """

    def __init__(self, source: Sequence[str], target: Sequence[str]) -> None:
        self.source, self.target = tuple(source), tuple(target)

    def __call__(self, sample: dict[str, Any]) -> dict[str, Tensor]:
        times = sample['t']
        image = sample['image'].unflatten(0, (times.numel(), -1))[times.argsort()]
        return {'image': reindex(image, self.source, self.target)}


def collate_seasons(samples: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    """Collate locations, then make each season its own image: ``[B·S, C, H, W]``."""
    batch = default_collate(samples)
    batch['image'] = batch['image'].flatten(0, 1)
    return batch


class SSL4EOS12DataModule(DTCDDataModule):
    """SSL4EO-S12 Sentinel-2 (264 px, 4 seasons per location) for pretraining, via TorchGeo.

    Every season becomes a separate image: a loader batch of ``batch_size / seasons`` locations
    yields ``{'image': [batch_size, C, H, W]}``. TorchGeo's ``__len__`` is hard-coded to the full
    251 079 locations, so the number of location folders actually present is counted instead.
    Bands are reindexed by name to ``bands`` (B10 exists only in L1C); normalised with the
    authors' SSL4EO-S12 statistics of the product level.

    Args:
        root: Folder holding ``s2c/`` or ``s2a/``.
        split: ``'s2c'`` (Level-1C, 13 bands) or ``'s2a'`` (Level-2A, 12 bands).
        bands: Band order of the batches (the student's MS stem order).
        seasons: Seasons per location to use (TorchGeo draws them at random; 4 uses all).
        val_fraction: Share of locations held out to monitor the losses (at least one).
        seed: Seed of the train/val split.
        batch_size: Images per batch and device (a multiple of ``seasons``).
        **kwargs: The other loader options of
            :class:`~dtcd.data.datamodules.base.DTCDDataModule`.
    """

    layout = SSL4EO_S12_LAYOUT

    def __init__(
        self,
        root: str = 'data/ssl4eo-s12',
        split: Literal['s2c', 's2a'] = 's2c',
        bands: str | Sequence[str] = DEO10,
        seasons: Literal[1, 2, 3, 4] = 4,
        val_fraction: float = 0.05,
        seed: int = 0,
        batch_size: int = 64,
        **kwargs: Any,
    ) -> None:
        if split not in SSL4EO_S12_STATS:
            raise ValueError(f"split must be 's2c' or 's2a', got {split!r}.")
        if batch_size % seasons:
            raise ValueError(f'batch_size {batch_size} is not a multiple of seasons {seasons}.')
        check_val_fraction(val_fraction)
        self.bands = resolve_bands(bands)
        file_bands = [ssl4eo_band_name(b) for b in SSL4EOS12.metadata[split]['bands']]
        band_indices(file_bands, self.bands)  # a missing band fails here, by name
        super().__init__(
            SSL4EOS12,
            batch_size=batch_size,
            root=root,
            split=split,
            seasons=seasons,
            transforms=_SeasonsAsSamples(file_bands, self.bands),
            **kwargs,
        )
        self.val_fraction, self.seed = val_fraction, seed
        self.train_batch_size = self.val_batch_size = batch_size // seasons
        self.collate_fn = collate_seasons
        self.set_normalization(self.bands, SSL4EO_S12_STATS[split])

    def locations(self) -> int:
        """Number of location folders on disk (they must be numbered 0, 1, ... without gaps)."""
        root, split = self.kwargs['root'], self.kwargs['split']
        folder = Path(root, split)
        names = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        if not names:
            raise self.layout.error(root, f'no location folders in {split}/')
        if names != [f'{i:07}' for i in range(len(names))]:
            raise self.layout.error(
                root, f'{split}/ location folders are not 0000000..{len(names) - 1:07} in order'
            )
        return len(names)

    def setup(self, stage: str) -> None:
        """Index the locations present and split them into train and validation."""
        with self.layout.explain(self.kwargs['root']):
            dataset = SSL4EOS12(**self.kwargs)
        present = Subset(dataset, range(self.locations()))
        self.train_dataset, self.val_dataset = holdout(present, self.val_fraction, self.seed)


class HDF5PretrainDataModule(DTCDDataModule):
    """The DEO authors' single HDF5 pretraining file, read through :class:`~dtcd.data.DEOHDF5`.

    Batches are ``{'image': [B, C, H, W]}`` in ``bands`` order, normalised with
    :func:`pretrain_stats` (DEO's). Each loader worker opens the file itself.

    Args:
        root: Path of the HDF5 file.
        bands: Band order of the batches (the student's MS stem order).
        file_bands: Names of the file's first channels in order (a set name or a list); the
            default names them as the authors' code does (:data:`~dtcd.bands.DEO_HDF5_13`), so
            ``DEO10`` is their channels ``[1, 2, 3, 4, 5, 6, 7, 8, 11, 12]``.
        layout: ``'nchw'`` or ``'nhwc'``, the axis order of the array.
        key: Name of the array in the file.
        limit: Use a seeded random subset of this many tiles (the authors'
            ``--data_split 500000``); ``None`` uses all.
        val_fraction: Share of tiles held out to monitor the losses (at least one).
        seed: Seed of the subset and of the train/val split.
        **kwargs: The loader options of :class:`~dtcd.data.datamodules.base.DTCDDataModule`.
    """

    layout = DatasetLayout(
        'DEO HDF5',
        "the DEO authors' conversion of fMoW-Sentinel (SatMAE, https://purl.stanford.edu/vg497cb6002)",
        """
        <file>.h5 with dataset 'images': [N, C, H, W] (layout nchw) or [N, H, W, C] (nhwc),
        channels named by file_bands (default deo_hdf5: the authors' naming of their 13
        channels; further channels are ignored)
        """,
    )

    def __init__(
        self,
        root: str = 'data/fmow_sentinel.h5',
        bands: str | Sequence[str] = DEO10,
        file_bands: str | Sequence[str] = DEO_HDF5_13,
        layout: Literal['nchw', 'nhwc'] = 'nchw',
        key: str = 'images',
        limit: int | None = None,
        val_fraction: float = 0.05,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        check_val_fraction(val_fraction)
        self.bands = resolve_bands(bands)
        super().__init__(
            DEOHDF5,
            root=root,
            bands=self.bands,
            file_bands=resolve_bands(file_bands),
            layout=layout,
            key=key,
            limit=limit,
            seed=seed,
            **kwargs,
        )
        band_indices(self.kwargs['file_bands'], self.bands)  # a missing band fails here, by name
        self.val_fraction, self.seed = val_fraction, seed
        self.set_normalization(self.bands, pretrain_stats())

    def setup(self, stage: str) -> None:
        """Open the file's index and split the tiles into train and validation."""
        with self.layout.explain(self.kwargs['root']):
            dataset = DEOHDF5(**self.kwargs)
        self.train_dataset, self.val_dataset = holdout(dataset, self.val_fraction, self.seed)
