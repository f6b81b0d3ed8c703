"""GEO-Bench DataModule: the paper's m-* classification and segmentation tasks (PAPER.md §3.1).

The on-disk format, band naming and the assumptions made about them are documented in
:mod:`dtcd.data.geobench`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from torch.utils.data import Dataset

from dtcd.data.datamodules.downstream import DownstreamDataModule
from dtcd.data.datamodules.layout import DatasetLayoutError
from dtcd.data.geobench import GeoBench, Split


class GeoBenchDataModule(DownstreamDataModule):
    """One GEO-Bench task, e.g. ``GeoBenchDataModule(root, task='m-SA-crop-type')``.

    The probe kind (``self.task``: multiclass, multilabel or segmentation), the classes, the band
    list and the statistics (``band_stats.json``) differ per task, so they are set on the instance
    from the task's files, before the base class checks the requested bands against them. The
    GEO-Bench task name stays in :attr:`geobench_task`. Masks keep every GEO-Bench class (including
    ``No data`` classes, which GEO-Bench scores), so ``ignore_index`` is ``None``.

    Args:
        root: GEO-Bench root (holding ``classification_v1.0/``, ``segmentation_v1.0/``) or the
            task folder.
        task: GEO-Bench task name, one of :data:`dtcd.data.geobench.GEOBENCH_TASKS` (the
            published names, e.g. ``m-cashew-plant``; the longer ``m-cashew-plantation`` and
            ``m-chesapeake-landcover`` are accepted too).
        partition: ``'default'``, or an official low-data partition such as ``'0.10x_train'``.
        bands: Band order of the batches (see :class:`DownstreamDataModule`).
        input_size: ``'paper'``: the paper's size for the task (m-eurosat 64, m-so2sat 32,
            m-bigearthnet 120, m-nz-cattle 500, m-pv4ger-seg 320, others 256); an int; or
            ``None`` for the native size.
        **kwargs: The other :class:`DownstreamDataModule` arguments (``train_fraction``, loader
            options).
    """

    def __init__(
        self,
        root: str = 'data',
        task: str = 'm-eurosat',
        partition: str = 'default',
        bands: str | Sequence[str] | None = None,
        input_size: int | Literal['paper'] | None = 'paper',
        **kwargs: Any,
    ) -> None:
        probe = _open(root, task, 'train', partition)
        self.geobench_task, self.partition = probe.task, partition
        self.task = probe.spec.kind
        self.classes = probe.spec.classes
        self.dataset_bands = probe.bands
        self.stats = probe.stats
        size = probe.spec.input_size if input_size == 'paper' else input_size
        super().__init__(root=root, bands=bands, input_size=size, **kwargs)

    def build_dataset(
        self, split: Literal['train', 'val', 'test'], transforms: Callable
    ) -> Dataset:
        """The ``split`` of the chosen partition."""
        return _open(self.root, self.geobench_task, split, self.partition, transforms)


def _open(
    root: str, task: str, split: Split, partition: str, transforms: Callable | None = None
) -> GeoBench:
    """The GEO-Bench split, with missing files reported as dtcd's :class:`DatasetLayoutError`."""
    try:
        return GeoBench(root, task, split, partition, transforms)
    except FileNotFoundError as error:
        raise DatasetLayoutError(str(error)) from error
