"""Linear probe (and k-NN readout) on pooled features: scene classification (PAPER.md §3.3)."""

from __future__ import annotations

from typing import Any, Literal

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn
from torch.utils.data import DataLoader
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassF1Score,
    MultilabelAccuracy,
    MultilabelF1Score,
)

from dtcd.probes.base import BaseProbe
from dtcd.probes.cache import FeatureCache
from dtcd.probes.knn import knn_scores

__all__ = ['ClassificationProbe']

#: Below this training hit rate after the first epoch, inputs are augmented beyond reuse.
MIN_CACHE_HIT_RATE = 0.05


class ClassificationProbe(BaseProbe):
    """A linear layer on globally pooled stage-4 features, plus a cosine k-NN readout.

    Single-label data trains with cross-entropy and reports top-1 accuracy (and macro F1);
    multi-label data (BigEarthNet) trains with BCE and reports macro F1 (and accuracy). The
    k-NN readout classifies validation and test images from un-augmented training features.

    With a frozen encoder, pooled features are cached by input content (:class:`FeatureCache`),
    so an input seen before costs only the linear layer; predictions are unchanged.

    Args:
        *args: :class:`BaseProbe`'s, from ``backbone`` on (``vit_blocks`` is unused by this
            probe's pooling).
        pool: ``'raw'``: GAP of the stage-4 output before the final LayerNorm, as DEO's probe
            does; ``'norm'``: after it (the pretraining embedding).
        knn_k: Neighbours of the k-NN readout (0: off).
        knn_temperature: Vote temperature of the k-NN readout.
        cache_features: Cache pooled features of a frozen encoder.
        lr: Peak learning rate (1e-3 in the paper; 1e-2 for EuroSAT).
        **kwargs: :class:`BaseProbe`'s other arguments (``freeze_backbone``: linear probing,
            the paper's protocol, when true).
    """

    tasks = ('multiclass', 'multilabel')
    report_task = 'classification'

    def __init__(
        self,
        *args: Any,
        pool: Literal['raw', 'norm'] = 'raw',
        knn_k: int = 20,
        knn_temperature: float = 0.07,
        cache_features: bool = True,
        lr: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, lr=lr, **kwargs)
        self.cache: FeatureCache | None = None
        self._queries: list[tuple[Tensor, Tensor]] = []

    @classmethod
    def monitor_of(cls, task: str) -> tuple[str, str]:
        """Top-1 accuracy, or F1 for multi-label data."""
        return ('val/f1' if task == 'multilabel' else 'val/acc'), 'max'

    @property
    def multilabel(self) -> bool:
        """Whether each image has a multi-hot label."""
        return self.data is not None and self.data.task == 'multilabel'

    def configure_models(self) -> None:
        """The linear head (and the feature cache for a frozen encoder)."""
        assert self.data is not None
        self.head = nn.Linear(self.backbone.num_features, self.data.num_classes)
        if self.frozen and self.hparams['cache_features']:
            self.cache = FeatureCache()

    def configure_losses(self) -> None:
        """Cross-entropy, or BCE on multi-hot labels."""
        self.criterion = nn.BCEWithLogitsLoss() if self.multilabel else nn.CrossEntropyLoss()

    def configure_metrics(self) -> None:
        """Accuracy and macro F1 of the linear head and of the k-NN readout."""
        self.val_metrics = self._metrics('val/')
        self.test_metrics = self._metrics('test/')
        self.val_knn = self._metrics('val/knn_')
        self.test_knn = self._metrics('test/knn_')

    def _metrics(self, prefix: str) -> MetricCollection:
        assert self.data is not None
        n = self.data.num_classes
        if self.multilabel:
            metrics = {
                'f1': MultilabelF1Score(n, average='macro'),
                'acc': MultilabelAccuracy(n, average='micro'),
            }
        else:
            metrics = {
                'acc': MulticlassAccuracy(n, average='micro'),
                'f1': MulticlassF1Score(n, average='macro'),
            }
        return MetricCollection(metrics, prefix=prefix)

    def features(self, image: Tensor) -> Tensor:
        """Pooled features ``[B, D]`` (from the cache where possible)."""
        x = self.select_bands(image)

        def compute(batch: Tensor) -> Tensor:
            with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
                return self.backbone.encode(batch, self.hparams['pool']).pooled

        if self.cache is None:
            return compute(x)
        return self.cache(x, compute, 'train' if self.training else 'eval')

    def forward(self, image: Tensor) -> Tensor:
        """Logits ``[B, num_classes]``."""
        return self.head(self.features(image))

    def _scores(self, logits: Tensor) -> Tensor:
        return logits.sigmoid() if self.multilabel else logits.softmax(dim=1)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """Loss of the head on one batch."""
        loss = self.criterion(self(batch['image']), batch['label'])
        self.log('train/loss', loss, batch_size=len(batch['label']), prog_bar=True)
        return loss

    def on_train_epoch_start(self) -> None:
        """Count cache hits per epoch."""
        if self.cache is not None:
            self.cache.reset_counts()

    def on_train_epoch_end(self) -> None:
        """Stop caching when training inputs never repeat (random crops make each one new)."""
        if self.cache is None or self.current_epoch < 1:
            return
        rate = self.cache.hit_rate()
        self.log('train/cache_hit_rate', rate)
        if rate < MIN_CACHE_HIT_RATE:
            rank_zero_warn(
                f'Feature cache hit rate {rate:.1%} in epoch {self.current_epoch}: the training '
                'inputs are augmented beyond reuse, so caching is switched off.'
            )
            self.cache.clear()
            self.cache = None

    def _evaluate(self, batch: dict[str, Tensor], metrics: MetricCollection) -> None:
        features = self.features(batch['image'])
        metrics.update(self._scores(self.head(features)), batch['label'])
        if self.hparams['knn_k'] > 0:
            self._queries.append((features, batch['label']))

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        """Update the validation metrics."""
        self._evaluate(batch, self.val_metrics)

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        """Update the test metrics."""
        self._evaluate(batch, self.test_metrics)

    def on_validation_epoch_end(self) -> None:
        """Log the epoch's metrics (k-NN too, except in the sanity check)."""
        self._end_epoch(self.val_metrics, self.val_knn, not self.trainer.sanity_checking)

    def on_test_epoch_end(self) -> None:
        """Log the test metrics."""
        self._end_epoch(self.test_metrics, self.test_knn, True)

    def _end_epoch(self, metrics: MetricCollection, knn: MetricCollection, knn_on: bool) -> None:
        self.log_metrics(metrics.compute())
        metrics.reset()
        if knn_on and self._queries:
            assert self.data is not None
            bank, bank_labels = self.train_bank()
            queries, labels = (torch.cat(t) for t in zip(*self._queries, strict=True))
            scores = knn_scores(
                bank,
                bank_labels,
                queries,
                self.data.num_classes,
                self.hparams['knn_k'],
                self.hparams['knn_temperature'],
            )
            knn.update(scores, labels)
            self.log_metrics(knn.compute())
            knn.reset()
        self._queries.clear()

    @torch.no_grad()
    def train_bank(self) -> tuple[Tensor, Tensor]:
        """Pooled features and labels of the whole training split, without augmentation.

        The DataModule's evaluation transform (``aug``: normalisation, resize) is applied, as
        for validation images, so the bank and the queries are comparable.
        """
        datamodule = self.trainer.datamodule
        if getattr(datamodule, 'train_dataset', None) is None:
            datamodule.setup('fit')
        loader = DataLoader(
            datamodule.train_dataset,
            batch_size=datamodule.batch_size,
            num_workers=datamodule.num_workers,
            collate_fn=datamodule.collate_fn,
        )
        features, labels = [], []
        for batch in loader:
            batch = datamodule.aug(self.transfer_batch_to_device(batch, self.device, 0))
            features.append(self.features(batch['image']))
            labels.append(batch['label'])
        return torch.cat(features), torch.cat(labels)
