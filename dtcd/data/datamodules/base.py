"""Shared DataModule plumbing: TorchGeo's NonGeoDataModule with typed loader options."""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator, Sequence, Sized
from typing import Any

import kornia.augmentation as K
import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler, Sampler, Subset
from torchgeo.datamodules import NonGeoDataModule

from dtcd.bands import BandStats
from dtcd.data.sample_cache import SampleCache


def run_seed() -> int:
    """The run's seed, as Lightning's ``seed_everything`` records it (0 when unseeded)."""
    return int(os.environ.get('PL_GLOBAL_SEED', 0))


class EpochSeededSampler(RandomSampler):
    """A shuffle drawn from ``(seed, epoch)``, never from the global generator.

    ``RandomSampler`` draws its seed from the global torch generator each time an iterator is
    made. A persistent-worker loader makes one iterator per run, a resumed run a new one, so the
    two draw differently and every crop after it differs. Seeded by epoch (Lightning calls
    :meth:`set_epoch`, as for DDP's ``DistributedSampler``, which the DataModule uses instead
    under DDP, with the same seed), a straight and a resumed run see the same batches, and the
    global generators serve only the training step, whose state the checkpoint restores.

    Lightning makes the loader's first iterator before it calls :meth:`set_epoch`, and a worker
    draws its first indices as soon as the iterator exists: a loader built for a resumed run
    starts at the resumed ``epoch``.
    """

    def __init__(self, data_source: Sized, seed: int, epoch: int = 0) -> None:
        super().__init__(data_source)
        self.seed = seed
        self.epoch = epoch

    def set_epoch(self, epoch: int) -> None:
        """Shuffle for ``epoch`` from now on."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        self.generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return super().__iter__()


class DTCDDataModule(NonGeoDataModule):
    """A NonGeoDataModule whose loader options are explicit, typed arguments.

    Explicit arguments (not ``**kwargs``) let LightningCLI validate them, and expose what TorchGeo
    keeps fixed (``pin_memory``, ``prefetch_factor``). They are declared here only: subclasses
    pass them on as ``**kwargs`` (LightningCLI follows ``super().__init__(..., **kwargs)`` to
    here), and a keyword that neither these options nor ``dataset_class`` take is refused when
    the DataModule is built. Normalisation runs on the device after the batch transfer, through
    TorchGeo's ``aug`` hook.

    Args:
        dataset_class: The dataset class.
        batch_size: Images per batch and device.
        num_workers: Loader worker processes.
        pin_memory: Pin host memory for faster host-to-GPU copies.
        prefetch_factor: Batches each worker prepares ahead (``None``: PyTorch's default).
        persistent_workers: Keep workers alive between epochs (when ``num_workers > 0``).
        cache_samples: Keep every decoded sample in memory after its first read
            (:class:`~dtcd.data.sample_cache.SampleCache`): for small datasets read for many
            epochs, when the samples fit in memory (once per loader worker).
        **kwargs: Passed to ``dataset_class``.
    """

    def __init__(
        self,
        dataset_class: type,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        prefetch_factor: int | None = None,
        persistent_workers: bool = True,
        cache_samples: bool = False,
        **kwargs: Any,
    ) -> None:
        try:
            inspect.signature(dataset_class).bind_partial(**kwargs)
        except TypeError as error:
            raise TypeError(f'{type(self).__name__}: {error}') from None
        super().__init__(dataset_class, batch_size, num_workers, **kwargs)
        self.pin_memory = pin_memory
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.cache_samples = cache_samples
        self._resumed_epoch = 0  # the epoch a resumed run's loader starts at (load_state_dict)

    def set_normalization(self, bands: Sequence[str], stats: BandStats) -> None:
        """Standardise ``image`` on the device with ``stats`` in the order of ``bands``."""
        self.mean, self.std = stats.tensors(bands)
        #: Per band name, the (mean, std) the images are standardised with: saved in checkpoints
        #: and carried into exports (``dtcd export``), so a backbone is fed as it was trained.
        self.normalization = {
            band: (float(m), float(s))
            for band, m, s in zip(bands, self.mean, self.std, strict=True)
        }
        self.aug = K.AugmentationSequential(
            K.Normalize(mean=self.mean, std=self.std), data_keys=None, keepdim=True
        )

    def _dataloader_factory(self, split: str) -> DataLoader[dict[str, Tensor]]:
        dataset = self._valid_attribute(f'{split}_dataset', 'dataset')
        if self.cache_samples and not isinstance(dataset, SampleCache):
            dataset = SampleCache(dataset)
            own = (
                f'{split}_dataset'
                if getattr(self, f'{split}_dataset', None) is not None
                else 'dataset'
            )
            setattr(self, own, dataset)  # later loaders (and the k-NN bank) share the cache
        batch_size = self._valid_attribute(f'{split}_batch_size', 'batch_size')
        workers = self.num_workers > 0
        train = split == 'train'
        # Dropping the last partial batch keeps batch statistics even, unless it is all there is.
        world = self.trainer.world_size if self.trainer is not None else 1
        drop_last = train and len(dataset) >= batch_size * world
        if train and not drop_last:
            rank_zero_info(
                f'dtcd: {len(dataset)} training samples are fewer than one batch of {batch_size}'
                f' x {world} device(s): training on the partial batch.'
            )
        return DataLoader(
            dataset=dataset,
            batch_size=batch_size,
            sampler=self._train_sampler(dataset, world) if train else None,
            num_workers=self.num_workers,
            collate_fn=self.collate_fn,
            drop_last=drop_last,
            pin_memory=self.pin_memory,
            prefetch_factor=self.prefetch_factor if workers else None,
            persistent_workers=self.persistent_workers and workers,
            # Workers' base seed from the run's seed, not from the global generator.
            generator=torch.Generator().manual_seed(run_seed()),
        )

    def _train_sampler(self, dataset: Sized, world: int) -> Sampler[int]:
        """A shuffle by (seed, epoch), already at the epoch the loader is built for.

        Under DDP, DDP's own ``DistributedSampler`` with the same seed, made here rather than by
        Lightning so that it starts at that epoch too (Lightning sets it only after the loader's
        first indices are drawn).
        """
        if world == 1:
            return EpochSeededSampler(dataset, run_seed(), self._epoch())
        sampler = DistributedSampler(
            dataset,  # type: ignore[arg-type]
            num_replicas=world,
            rank=self.trainer.global_rank,
            shuffle=True,
            seed=run_seed(),
        )
        sampler.set_epoch(self._epoch())
        return sampler

    def _epoch(self) -> int:
        """The epoch the loader is built for: what Lightning will pass to ``set_epoch``.

        That is the fit loop's count of processed epochs. A resumed run may build its loader
        before the loop's count is restored (``estimated_stepping_batches`` in
        ``configure_optimizers``), so the count recorded in the checkpoint, restored with this
        DataModule's state before that, is the floor.
        """
        if self.trainer is None:
            return 0
        return max(self.trainer.fit_loop.epoch_progress.current.processed, self._resumed_epoch)

    def state_dict(self) -> dict[str, Any]:
        """What fixes the data order and the schedules, checked when a run resumes."""
        return {
            'batch_size': self.batch_size,
            'world_size': self.trainer.world_size if self.trainer else 1,
            'root': str(self.kwargs.get('root', '')),
            'global_step': self.trainer.global_step if self.trainer else 0,
            'epoch': self._epoch(),
            'normalization': getattr(self, 'normalization', None),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Say where the run resumes; refuse settings that change the data order or schedules."""
        self._resumed_epoch = int(state_dict.get('epoch', 0))
        now = self.state_dict()
        if self.trainer is not None:
            rank_zero_info(
                f'dtcd: resuming from {self.trainer.ckpt_path} at optimizer step '
                f'{state_dict.get("global_step", "?")}.'
            )
        differ = {
            k: (state_dict[k], now[k])
            for k in ('batch_size', 'world_size')
            if k in state_dict and state_dict[k] != now[k]
        }
        if differ:
            raise ValueError(
                f'The checkpoint was written with other data settings (checkpoint value, value '
                f'now): {differ}. The batch order and the per-step schedules depend on them: '
                'resume with the same batch size and number of devices, or start a new run '
                'initialised from the weights.'
            )
        if state_dict.get('root', now['root']) != now['root']:
            rank_zero_warn(
                f'Resuming on data from {now["root"]!r}; the checkpoint was written reading '
                f'{state_dict["root"]!r}. Fine if the data moved; otherwise the run continues '
                'on other data.'
            )


def seeded_split(
    dataset: Dataset, lengths: Sequence[int], seed: int, sort: bool = True
) -> list[Subset]:
    """Disjoint parts of ``dataset`` with ``lengths`` items, cut in turn from one seeded shuffle.

    The shuffle is ``torch.randperm`` of the dataset's length under a generator seeded with
    ``seed``; ``lengths`` may leave its tail unused. Each part lists its indices ascending
    (``sort``) or in the drawn order (``sort=False`` with ``lengths`` covering the dataset is
    ``torch.utils.data.random_split``). Train/validation holdouts and low-data subsets use it.
    """
    count = len(dataset)  # type: ignore[arg-type]
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
    parts: list[Subset] = []
    start = 0
    for length in lengths:
        part = order[start : start + length]
        parts.append(Subset(dataset, sorted(part) if sort else part))
        start += length
    return parts


def holdout_size(count: int, fraction: float) -> int:
    """Items in a held-out ``fraction`` of ``count``: at least one, and at least one left over."""
    if count < 2:
        raise ValueError(f'Cannot split {count} item(s) into train and val parts.')
    return min(max(1, round(fraction * count)), count - 1)


def check_val_fraction(val_fraction: float) -> None:
    """Refuse a validation share outside (0, 1), when a DataModule is built rather than at setup."""
    if not 0 < val_fraction < 1:
        raise ValueError(f'val_fraction must lie in (0, 1), got {val_fraction}.')
