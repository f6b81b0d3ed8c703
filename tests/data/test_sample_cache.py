"""`cache_samples`: files are read once per sample, and the batches are those of an uncached run."""

from pathlib import Path
from unittest import mock

import rasterio
import torch

from dtcd.data.datamodules import EuroSATDataModule
from dtcd.data.sample_cache import SampleCache


def epoch(dm: EuroSATDataModule, split: str) -> list[dict]:
    return list(getattr(dm, f'{split}_dataloader')())


def test_each_sample_is_read_from_disk_once_and_batches_are_unchanged(synth_root: Path) -> None:
    kwargs = {'root': str(synth_root / 'eurosat'), 'bands': 'deo10', 'batch_size': 8}
    plain, cached = EuroSATDataModule(**kwargs), EuroSATDataModule(**kwargs, cache_samples=True)
    for dm in (plain, cached):
        dm.setup('fit')
    opened = mock.patch.object(rasterio, 'open', wraps=rasterio.open)
    with opened as reads:
        first = epoch(cached, 'train')
    images = len(cached.train_dataset)
    assert isinstance(cached.train_dataset, SampleCache)  # the k-NN bank reads the cache too
    assert reads.call_count == images  # one GeoTIFF per EuroSAT image
    with opened as reads:
        second, val = epoch(cached, 'train'), epoch(cached, 'val')
        val_again = epoch(cached, 'val')
    assert reads.call_count == len(cached.val_dataset)  # train from memory; val once
    for batches in (first, second):  # the same shuffle as without the cache, the same pixels
        for mine, theirs in zip(batches, epoch(plain, 'train'), strict=True):
            torch.testing.assert_close(mine, theirs, rtol=0, atol=0)
    for mine, theirs in zip(val_again, val, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)
    assert cached.train_dataset.classes == plain.train_dataset.classes  # attributes pass through
