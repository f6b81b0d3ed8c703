"""A stand-in LightningModule that checks every batch against the DataModule contract.

The probes are separate work; this one consumes batches in a real ``dtcd fit`` run, asserts the
documented shapes, dtypes and value ranges, and checks the band order by value: the fake data
generators write each band near a known code, so undoing the normalisation must give back, in
each channel, the code of the band the DataModule says sits there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from lightning.pytorch import LightningModule
from torch import Tensor, nn

from dtcd.main import main

CONF = Path(__file__).parents[1] / 'conf'


class BatchChecker(LightningModule):
    """Asserts the batch contract in ``training_step`` and ``validation_step``.

    Args:
        task: What the DataModule serves (``'pretrain'``: unlabelled ``image`` only).
        codes: Expected raw value of each band (by name); ``None`` skips the value check.
        tolerance: Largest accepted distance between a channel's median and its band's code.
        size: Expected side of training images (``None``: not checked).
    """

    #: One summary per checked batch, for the test to inspect after ``main`` returns.
    seen: ClassVar[list[dict[str, Any]]] = []

    def __init__(
        self,
        task: Literal['multiclass', 'multilabel', 'segmentation', 'change', 'pretrain'],
        codes: dict[str, float] | None = None,
        tolerance: float = 0.0,
        size: int | None = None,
    ) -> None:
        super().__init__()
        self.task, self.codes, self.tolerance, self.size = task, codes, tolerance, size
        self.weight = nn.Parameter(torch.zeros(()))

    def check(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        """Assert the contract for one batch; return the image."""
        datamodule = self.trainer.datamodule
        image = batch['image']
        assert image.dtype == torch.float32, image.dtype
        assert torch.isfinite(image).all(), 'non-finite values reached the model'
        assert image.ndim == (5 if self.task == 'change' else 4), image.shape
        if self.task == 'change':
            assert image.shape[1] == 2, image.shape
        assert image.shape[-3] == len(datamodule.bands), (image.shape, datamodule.bands)
        if self.size is not None and stage == 'train':
            assert image.shape[-2:] == (self.size, self.size), image.shape
        batch_size, spatial = image.shape[0], image.shape[-2:]
        if self.task == 'multiclass':
            label = batch['label']
            assert label.dtype == torch.int64 and label.shape == (batch_size,), label
            assert 0 <= label.min() and label.max() < datamodule.num_classes
        elif self.task == 'multilabel':
            label = batch['label']
            assert label.dtype == torch.float32, label.dtype
            assert label.shape == (batch_size, datamodule.num_classes), label.shape
            assert set(label.unique().tolist()) <= {0.0, 1.0}
        elif self.task == 'segmentation':
            mask = batch['mask']
            assert mask.dtype == torch.int64 and mask.shape == (batch_size, *spatial), mask.shape
        elif self.task == 'change':
            mask = batch['mask']
            assert mask.dtype == torch.int64, mask.dtype
            assert mask.shape == (batch_size, 1, *spatial), mask.shape
            assert set(mask.unique().tolist()) <= {0, 1}
        else:
            assert set(batch) == {'image'}, set(batch)
        medians = self.raw_medians(image, datamodule.mean, datamodule.std)
        if self.codes is not None:
            for band, value in zip(datamodule.bands, medians.tolist(), strict=True):
                assert abs(value - self.codes[band]) <= self.tolerance, (band, value)
        self.seen.append(
            {'stage': stage, 'image': tuple(image.shape), 'bands': tuple(datamodule.bands)}
        )
        return image

    @staticmethod
    def raw_medians(image: Tensor, mean: Tensor, std: Tensor) -> Tensor:
        """Per-channel median of ``image`` with the normalisation undone."""
        channels = image.movedim(-3, 0).flatten(1)
        mean, std = mean.to(image.device)[:, None], std.to(image.device)[:, None]
        return (channels * std + mean).median(dim=1).values

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """Check the batch; a differentiable loss of the one parameter."""
        image = self.check(batch, 'train')
        return (self.weight - image.mean()) ** 2

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        """Check the batch."""
        self.check(batch, 'val')

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Plain SGD on the single parameter."""
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit(name: str, root: Path, tmp_path: Path, *args: str) -> list[dict[str, Any]]:
    """``dtcd fit`` of ``tests/conf/data_<name>.yaml`` on ``root``, one batch per stage.

    Returns the summaries of the batches the :class:`BatchChecker` saw.
    """
    BatchChecker.seen.clear()
    main(
        [
            'fit', '--config', str(CONF / f'data_{name}.yaml'),
            '--trainer.fast_dev_run', 'true', '--trainer.default_root_dir', str(tmp_path),
            '--data.init_args.root', str(root), *args,
        ]
    )  # fmt: skip
    return list(BatchChecker.seen)


def codes_arg(codes: dict[str, float]) -> list[str]:
    """The CLI arguments that hand the band codes to the checker."""
    return ['--model.init_args.codes', json.dumps(codes)]
