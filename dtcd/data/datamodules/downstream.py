"""The contract every downstream DataModule (classification, segmentation, change) follows.

Batches (after the device transfer) are dicts with:

- ``image``: float32 ``[B, C, H, W]`` (``[B, 2, C, H, W]`` for change pairs), channels in
  ``self.bands`` order, each band standardised with the dataset's own statistics;
- ``label``: int64 ``[B]`` (single-label) or float32 multi-hot ``[B, K]`` (multi-label);
- ``mask``: int64 ``[B, H, W]`` for segmentation (``ignore_index`` where there is no label) or
  ``[B, 1, H, W]`` 0/1 for change.

The dataset yields its own bands (``dataset_bands``); they are reindexed by name to ``bands``
on the CPU, so a missing band fails at once with its name. Augmentation (random crop and flips
for training, resize for evaluation) runs on the device after the transfer. NaN / no-data
pixels in inputs are filled with the band mean, i.e. 0 after standardisation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import kornia.augmentation as K
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset, Subset

from dtcd.bands import BandStats, band_indices, reindex, resolve_bands
from dtcd.data.datamodules.base import DTCDDataModule, holdout_size, seeded_split

Task = Literal['multiclass', 'multilabel', 'segmentation', 'change']


class ReindexBands:
    """Sample transform: move ``image`` bands from the dataset's order to the requested one."""

    def __init__(self, source: Sequence[str], target: Sequence[str]) -> None:
        self.source, self.target = tuple(source), tuple(target)

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        sample['image'] = reindex(sample['image'].float(), self.source, self.target)
        return sample


def band_stats_of(
    dataset: Dataset[dict[str, Tensor]], bands: Sequence[str], max_samples: int = 256
) -> BandStats:
    """Per-band mean and std of (an evenly spaced subset of) ``dataset``'s images.

    Used for datasets without published statistics; NaN pixels are ignored. Sums accumulate in
    float64 one image at a time, so large images (LEVIR-CD's 1024² pairs) need no more memory
    than one sample.
    """
    count = len(dataset)  # type: ignore[arg-type]
    if count == 0:
        raise ValueError('Cannot compute band statistics of an empty dataset.')
    step = max(1, count // max_samples)
    total = torch.zeros(len(bands), dtype=torch.float64)
    squares = torch.zeros_like(total)
    n = torch.zeros_like(total)
    for i in range(0, count, step)[:max_samples]:
        image = dataset[i]['image'].double()  # [(T,) C, H, W]
        channels = image.movedim(-3, 0).reshape(len(bands), -1)
        finite = torch.isfinite(channels)
        values = torch.where(finite, channels, 0.0)
        total += values.sum(dim=1)
        squares += (values**2).sum(dim=1)
        n += finite.sum(dim=1)
    n = n.clamp_min(1)
    mean = total / n
    std = (squares / n - mean**2).clamp_min(0).sqrt().clamp_min(1e-6)
    return BandStats(
        dict(zip(bands, mean.tolist(), strict=True)), dict(zip(bands, std.tolist(), strict=True))
    )


def split_off(
    dataset: Dataset, fraction: float, part: Literal['train', 'val'], seed: int = 0
) -> Subset:
    """The ``'val'`` share (at least one item) of ``dataset`` or the ``'train'`` rest, seeded.

    For datasets published without a validation split (OSCD, So2Sat v3); the two parts of the
    same ``dataset``, ``fraction`` and ``seed`` are disjoint and cover it.
    """
    count = len(dataset)  # type: ignore[arg-type]
    num_val = holdout_size(count, fraction)
    val, train = seeded_split(dataset, [num_val, count - num_val], seed)
    return val if part == 'val' else train


class DownstreamDataModule(DTCDDataModule):
    """Base of the probe DataModules; subclasses say what the dataset is and how to build it.

    Subclasses set the class attributes and implement :meth:`build_dataset`.

    Args:
        root: Dataset folder.
        bands: Band order of the batches (a set name such as ``'deo10'``, a list, or ``None``
            for the dataset's own); usually the band list of the backbone stem to probe.
        input_size: Side of the training crops and of resized evaluation images (``None``: the
            native size).
        train_fraction: Share of the training labels to use (low-data regime), seeded.
        seed: Seed of the low-data subset.
        **kwargs: The loader options of :class:`DTCDDataModule` (``batch_size``,
            ``num_workers``, ``pin_memory``, ``prefetch_factor``, ``persistent_workers``).
    """

    #: What the probe should do with the batches.
    task: ClassVar[Task] = 'multiclass'
    #: Bands the dataset class yields, in order.
    dataset_bands: ClassVar[tuple[str, ...]] = ()
    #: Class names (index = label).
    classes: ClassVar[tuple[str, ...]] = ()
    #: Label value that marks unlabelled pixels (segmentation).
    ignore_index: ClassVar[int | None] = None
    #: Published statistics in ``dataset_bands`` units; ``None``: computed on the training split.
    stats: ClassVar[BandStats | None] = None
    #: Also rotate training images by random multiples of 90° (square, orientation-free scenes).
    rotate90: ClassVar[bool] = False

    def __init__(
        self,
        root: str = 'data',
        bands: str | Sequence[str] | None = None,
        input_size: int | None = None,
        train_fraction: float = 1.0,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(Dataset, **kwargs)
        if not 0 < train_fraction <= 1:
            raise ValueError(f'train_fraction must lie in (0, 1], got {train_fraction}.')
        self.root = root
        self.bands = self.dataset_bands if bands is None else resolve_bands(bands)
        band_indices(self.dataset_bands, self.bands)  # a missing band fails here, by name
        self.reindex = ReindexBands(self.dataset_bands, self.bands)
        self.input_size = input_size
        self.train_fraction, self.seed = train_fraction, seed

    @property
    def num_classes(self) -> int:
        """Number of classes (2 for change: no change, change)."""
        return len(self.classes)

    def build_dataset(
        self, split: Literal['train', 'val', 'test'], transforms: Callable
    ) -> Dataset:
        """The dataset of ``split`` with ``transforms`` applied to each sample."""
        raise NotImplementedError

    def setup(self, stage: str) -> None:
        """Build the splits, the low-data subset, the statistics and the device augmentations."""
        if stage in ('fit', 'validate'):
            train = self.build_dataset('train', self.reindex)
            self.train_dataset = self._low_data(train)
            self.val_dataset = self.build_dataset('val', self.reindex)
        if stage in ('test', 'predict') or stage == 'fit':
            self.test_dataset = self.build_dataset('test', self.reindex)
        self.mean, self.std = self._stats().tensors(self.bands)
        self._build_augmentations()

    def _low_data(self, dataset: Dataset) -> Dataset:
        if self.train_fraction >= 1:
            return dataset
        keep = max(1, round(self.train_fraction * len(dataset)))  # type: ignore[arg-type]
        return seeded_split(dataset, [keep], self.seed)[0]

    def _stats(self) -> BandStats:
        if self.stats is not None:
            return self.stats
        source = self.train_dataset or self.build_dataset('train', self.reindex)
        return band_stats_of(source, self.bands)

    def _build_augmentations(self) -> None:
        """Random crop and flips for training, resize for evaluation (after normalisation)."""
        train: list[Any] = []
        evaluate: list[Any] = []
        if self.input_size is not None:
            size = (self.input_size, self.input_size)
            train.append(K.RandomCrop(size, pad_if_needed=True))
            evaluate.append(K.Resize(size))
        train += [K.RandomHorizontalFlip(), K.RandomVerticalFlip()]
        if self.rotate90:
            train.append(K.RandomRotation90(times=(0, 3)))
        self.train_aug = _Pipeline(
            train, self.task, self.mean, self.std, self.input_size, self.ignore_index
        )
        self.aug = _Pipeline(evaluate, self.task, self.mean, self.std)


class _Pipeline:
    """Normalise, fill no-data, then Kornia geometry shared by image, mask and both dates."""

    def __init__(
        self,
        ops: list[Any],
        task: Task,
        mean: Tensor,
        std: Tensor,
        pad_to: int | None = None,
        ignore_index: int | None = None,
    ) -> None:
        self.keys = ['image', 'mask'] if task in ('segmentation', 'change') else ['image']
        self.sequential = (
            K.AugmentationSequential(*ops, data_keys=None, keepdim=True) if ops else None
        )
        self.mean, self.std = mean.view(-1, 1, 1), std.view(-1, 1, 1)
        self.pad_to, self.ignore_index = pad_to, ignore_index

    def _pad(self, image: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """Pad images smaller than the crop: pixels with the band mean, labels as unlabelled.

        Kornia's padding would give padded pixels label 0, a real class, so padding happens
        here, where the ignore index is known (0 when the dataset has none, e.g. no change).
        """
        height, width = image.shape[-2:]
        if self.pad_to is None or (height >= self.pad_to and width >= self.pad_to):
            return image, mask
        pad = (0, max(self.pad_to - width, 0), 0, max(self.pad_to - height, 0))
        image = F.pad(image, pad, value=0.0)
        if mask is not None:
            mask = F.pad(mask, pad, value=self.ignore_index or 0)
        return image, mask

    def __call__(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        image = batch['image'].float()
        image = (image - self.mean.to(image.device)) / self.std.to(image.device)
        image = torch.nan_to_num(image, nan=0.0, posinf=0.0, neginf=0.0)  # no-data → band mean
        result = dict(batch)
        if self.sequential is None:
            result['image'] = image
            return result
        pair = image.ndim == 5
        if pair:  # [B, 2, C, H, W]: both dates get the same crop and flips
            t = image.shape[1]
            image = image.flatten(1, 2)
        mask = batch['mask'] if 'mask' in batch and 'mask' in self.keys else None
        if mask is not None and mask.ndim == 3:
            mask = mask[:, None]
        image, mask = self._pad(image, mask)
        inputs: dict[str, Tensor] = {'image': image}
        if mask is not None:
            inputs['mask'] = mask.float()
        out = self.sequential(inputs)
        result['image'] = out['image'].unflatten(1, (t, -1)) if pair else out['image']
        if 'mask' in inputs:
            mask = out['mask'].round().long()
            result['mask'] = mask if batch['mask'].ndim == 4 else mask[:, 0]
        return result
