"""Keep a dataset's decoded samples in memory after their first read.

Small datasets read for many epochs (SynthEO, probes of a few thousand images) spend most of a
CPU run opening and decoding the same files again. dtcd's datasets return deterministic samples
(random augmentation runs on the device after the batch transfer), so the first read of an index
is the answer for every later one. With loader workers each worker keeps the samples it read, so
pair it with ``persistent_workers``; ``num_workers: 0`` keeps one copy in the main process.
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

from torch.utils.data import Dataset

__all__ = ['SampleCache']


class SampleCache(Dataset):
    """``dataset[i]`` read once, then served from memory (the same sample every time)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.samples: dict[int, Any] = {}

    def __len__(self) -> int:
        assert isinstance(self.dataset, Sized)
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        if index not in self.samples:
            self.samples[index] = self.dataset[index]
        return self.samples[index]

    def __getattr__(self, name: str) -> Any:
        """The wrapped dataset's attributes (``classes``, ``bands``, ...), as if unwrapped."""
        if name in ('dataset', 'samples'):  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.dataset, name)
