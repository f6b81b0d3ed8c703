"""Pretraining from LitData shards (``dtcd shard``), in a folder or on object storage.

LitData's ``StreamingDataset`` shuffles chunks and samples by (seed, epoch) across nodes, ranks and
workers, and its ``StreamingDataLoader`` keeps a ``state_dict`` that Lightning's fit loop stores
in the checkpoint, so a run resumed in the middle of an epoch continues with the samples it would
have seen next (with persistent workers: see the README, "Pretraining at scale").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import default_collate

from dtcd.bands import DEO10, RGB, MissingBandError, band_indices, resolve_bands
from dtcd.data.datamodules.base import DTCDDataModule, run_seed
from dtcd.data.datamodules.pretrain import SSL4EO_S12_STATS, pretrain_stats
from dtcd.data.datasets import hr_to_dn
from dtcd.data.object_storage import check_shards  # also lets http endpoints work, in workers too

__all__ = ['CollateDates', 'ShardSample', 'StreamingPretrainDataModule']

STATS = {'deo': pretrain_stats(), 'ssl4eo-s2c': SSL4EO_S12_STATS['s2c'],
         'ssl4eo-s2a': SSL4EO_S12_STATS['s2a']}  # fmt: skip


class ShardSample:
    """One shard sample as a training sample: ``image`` ``[T, C, H, W]`` in ``bands`` order.

    The digital numbers cross from the loader worker in their own dtype (int16, uint16) and
    become float32 on the device (:meth:`StreamingPretrainDataModule.on_after_batch_transfer`):
    half the bytes through the worker queue, twice the images per worker (``benchmarks/
    data_path.py``). With ``rgb_source='hr'``, in a shard set whose first sample has a paired HR
    RGB (``first_has_hr``), that image averaged to the MS grid replaces B04, B03, B02, in float32
    from the worker on.
    """

    def __init__(
        self, bands: Sequence[str], rgb_source: str, first_has_hr: bool, where: str
    ) -> None:
        self.bands, self.rgb_source, self.where = tuple(bands), rgb_source, where
        self.hr = rgb_source == 'hr' and first_has_hr

    def __call__(self, sample: dict[str, Any]) -> dict[str, Tensor]:
        names = sample['bands'].split(',')
        try:
            take = band_indices(names, self.bands)
        except MissingBandError as error:
            raise MissingBandError(f'Shards in {self.where}: {error}') from None
        hr = sample['rgb_hr']
        if not self.hr:
            if hr.size and self.rgb_source == 'hr':
                raise ValueError(
                    f'Shards in {self.where}: sample {json.loads(sample["meta"])["id"]} has a '
                    "paired HR RGB image but the set's first sample has none; give rgb_source='s2' "
                    "to use Sentinel-2's RGB throughout, or shard pairs and singles apart."
                )
            return {'image': torch.from_numpy(np.ascontiguousarray(sample['image'][:, take]))}
        image = torch.from_numpy(np.asarray(sample['image'], dtype=np.float32))[:, take]
        if hr.size:
            low = F.interpolate(torch.from_numpy(hr_to_dn(hr))[None], image.shape[-2:], mode='area')
            image[:, band_indices(self.bands, RGB)] = low
        return {'image': image}


class CollateDates:
    """Collate locations; with ``each``, every date becomes its own image (``[B·T, C, H, W]``).

    A class, not a method of the DataModule: LitData's workers for object storage are spawned,
    and a bound method would pickle the DataModule with its Trainer.
    """

    def __init__(self, each: bool) -> None:
        self.each = each

    def __call__(self, samples: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        batch = default_collate(samples)
        if self.each:
            batch['image'] = batch['image'].flatten(0, 1)
        return batch


class StreamingPretrainDataModule(DTCDDataModule):
    """Pretraining batches ``{'image': [B, C, H, W]}`` streamed from LitData shards.

    Args:
        input_dir: The shards: a folder or ``s3://bucket/prefix``.
        bands: Band order of the batches (the student's MS stem order); matched by name.
        rgb_source: ``'hr'`` puts the paired HR RGB (averaged to the MS grid) in place of B04,
            B03, B02 where a sample has one (DEO); ``'s2'`` keeps Sentinel-2's.
        dates: ``'each'``: every date of a location is its own image (``batch_size`` images are
            ``batch_size / T`` locations); ``'all'``: batches keep them, ``[B, T, C, H, W]``.
        stats: Normalisation statistics: ``'deo'`` (DEO's, digital numbers), ``'ssl4eo-s2c'``
            or ``'ssl4eo-s2a'`` (the SSL4EO-S12 authors').
        val_dir: Shards to monitor the losses on (``None``: no validation).
        storage_options: For object storage, e.g. ``{'endpoint_url': 'http://host:9000'}``;
            credentials come from the environment as boto3 reads them.
        cache_dir: Where downloaded chunks are kept (LitData's default when ``None``).
        max_cache_size: Most bytes of chunks kept on local disk, e.g. ``'50GB'``.
        **kwargs: The loader options of :class:`~dtcd.data.datamodules.base.DTCDDataModule`.
    """

    def __init__(
        self,
        input_dir: str = 'data/shards/synth',
        bands: str | Sequence[str] = DEO10,
        rgb_source: Literal['hr', 's2'] = 'hr',
        dates: Literal['each', 'all'] = 'each',
        stats: Literal['deo', 'ssl4eo-s2c', 'ssl4eo-s2a'] = 'deo',
        val_dir: str | None = None,
        storage_options: dict[str, Any] | None = None,
        cache_dir: str | None = None,
        max_cache_size: str = '50GB',
        **kwargs: Any,
    ) -> None:
        from litdata import StreamingDataset

        self.bands = resolve_bands(bands)
        super().__init__(StreamingDataset, input_dir=input_dir, **kwargs)
        self.input_dir, self.val_dir = input_dir, val_dir
        self.rgb_source, self.dates = rgb_source, dates
        self.storage_options, self.cache_dir = storage_options or {}, cache_dir
        self.max_cache_size = max_cache_size
        self.dates_per_sample = 1
        self.set_normalization(self.bands, STATS[stats])

    def _dataset(self, input_dir: str, shuffle: bool, hr: bool = False, raw: bool = False) -> Any:
        """LitData's dataset of ``input_dir`` (``raw``: the stored samples, no transform)."""
        from litdata import StreamingDataset

        return StreamingDataset(
            input_dir,
            shuffle=shuffle,
            drop_last=shuffle,
            seed=run_seed(),
            storage_options=self.storage_options,
            cache_dir=self.cache_dir,
            max_cache_size=self.max_cache_size,
            transform=None if raw else ShardSample(self.bands, self.rgb_source, hr, input_dir),
        )

    def setup(self, stage: str) -> None:
        """Open the shards' index; the first sample's bands and dates are checked here."""
        for where in filter(None, [self.input_dir, self.val_dir]):
            check_shards(where, self.storage_options)
        # A dataset of its own: one that has read a sample holds a reader the loader's spawned
        # workers cannot receive.
        first = self._dataset(self.input_dir, shuffle=False, raw=True)[0]
        self.dates_per_sample = first['image'].shape[0]
        hr = first['rgb_hr'].size > 0
        ShardSample(self.bands, self.rgb_source, hr, self.input_dir)(first)  # bands named here
        self.train_dataset = self._dataset(self.input_dir, shuffle=True, hr=hr)
        self.val_dataset = self._dataset(self.val_dir, False, hr) if self.val_dir else None
        if self.dates == 'each' and self.batch_size % self.dates_per_sample:
            raise ValueError(
                f'{self.input_dir}: samples hold {self.dates_per_sample} dates each; '
                f"batch_size {self.batch_size} images with dates='each' must be a multiple of it."
            )

    def _dataloader_factory(self, split: str) -> Any:
        from litdata import StreamingDataLoader

        dataset = self.train_dataset if split == 'train' else self.val_dataset
        per_loader = self.batch_size // self.dates_per_sample if self.dates == 'each' else 0
        workers = self.num_workers > 0
        return StreamingDataLoader(
            dataset,
            batch_size=per_loader or self.batch_size,
            num_workers=self.num_workers,
            collate_fn=CollateDates(each=self.dates == 'each'),
            pin_memory=self.pin_memory,
            prefetch_factor=self.prefetch_factor if workers else None,
            persistent_workers=self.persistent_workers and workers,
            drop_last=split == 'train',
            # Workers' base seed from the run's seed: drawn from the global generator, a resumed
            # run's new iterator would shift the crops and masks drawn after it.
            generator=torch.Generator().manual_seed(run_seed()),
        )

    def on_after_batch_transfer(self, batch: dict[str, Tensor], dataloader_idx: int) -> Any:
        """Digital numbers to float32 on the device, then the normalisation (of each date of a
        ``dates='all'`` batch: Kornia's takes 4-D images only)."""
        image = batch['image'].float()
        batch['image'] = image.flatten(0, 1) if image.ndim == 5 else image
        batch = super().on_after_batch_transfer(batch, dataloader_idx)
        if image.ndim == 5:
            batch['image'] = batch['image'].unflatten(0, image.shape[:2])
        return batch

    def val_dataloader(self) -> Any:
        """The ``val_dir`` shards in order; none without ``val_dir`` (validation is skipped)."""
        return self._dataloader_factory('val') if self.val_dir else []

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), 'root': self.input_dir}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Refuse a resume LitData would get wrong: without persistent workers (or with none) the
        epoch after a mid-epoch resume yields one batch (LitData 0.2.76, Lightning 2.6.6;
        ``tests/reliability/test_litdata_resume_findings.py``)."""
        if not (self.num_workers > 0 and self.persistent_workers):
            raise ValueError(
                f'Resuming from the shards in {self.input_dir} needs loader workers that persist '
                f'(num_workers {self.num_workers}, persistent_workers {self.persistent_workers}):'
                ' without them the next epoch would train on one batch. Set '
                'data.init_args.num_workers: 2 and data.init_args.persistent_workers: true.'
            )
        super().load_state_dict(state_dict)
