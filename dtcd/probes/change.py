"""Change-detection probe: a siamese encoder (fine-tuned) with per-stage fusion and a decoder.

The DEO figure shows a fine-tuned encoder for change detection; the head and recipe were not
published (PAPER.md §3.4), so dtcd uses the common siamese design: both dates go through the
same encoder in one batch, each stage's two maps are fused (absolute difference by default),
and UPerNet turns the fused pyramid into one change logit per pixel.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryF1Score,
    BinaryJaccardIndex,
    BinaryPrecision,
    BinaryRecall,
)

from dtcd.models.decoders import SiameseFusion
from dtcd.probes.segmentation import SegmentationProbe

__all__ = ['ChangeDetectionProbe']


class ChangeDetectionProbe(SegmentationProbe):
    """Binary change maps from image pairs ``[B, 2, C, H, W]``; masks ``[B, 1, H, W]``.

    Reports F1, precision, recall and IoU of the change class (threshold 0.5 on the sigmoid).

    Args:
        *args: :class:`BaseProbe`'s, from ``backbone`` on.
        freeze_backbone: Fine-tuned by default, as in the paper's figure.
        fusion: ``'diff'`` (``|a - b|``) or ``'concat'`` per stage.
        decoder_channels: Width of the decoder.
        pos_weight: BCE weight of change pixels (change is rare; ``None``: 1).
        loss: Always pixel-wise BCE on the change mask (kept from :class:`SegmentationProbe`,
            whose hyper-parameters a checkpoint records).
        **kwargs: :class:`SegmentationProbe`'s other arguments (``decoder``, ``pool_scales``,
            ``decoder_norm``) and :class:`BaseProbe`'s.
    """

    tasks = ('change',)
    report_task = 'change'

    def __init__(
        self,
        *args: Any,
        freeze_backbone: bool = False,
        fusion: Literal['diff', 'concat'] = 'diff',
        decoder_channels: int = 256,
        pos_weight: float | None = None,
        loss: Literal['bce'] = 'bce',
        **kwargs: Any,
    ) -> None:
        super().__init__(
            *args,
            freeze_backbone=freeze_backbone,
            decoder_channels=decoder_channels,
            loss=loss,
            **kwargs,
        )

    @classmethod
    def monitor_of(cls, task: str) -> tuple[str, str]:
        """Validation F1 of the change class."""
        return 'val/f1', 'max'

    @property
    def num_outputs(self) -> int:
        """One change logit."""
        return 1

    def decoder_inputs(self) -> list[int]:
        """Channels after fusing the two dates."""
        return self.fusion.out_channels(self.backbone.feature_dims)

    def configure_models(self) -> None:
        """Fusion, then the neck and decoder of the segmentation probe."""
        self.fusion = SiameseFusion(self.hparams['fusion'])
        super().configure_models()

    def configure_losses(self) -> None:
        """BCE with an optional weight on change pixels."""
        weight = self.hparams['pos_weight']
        self.register_buffer(
            'pos_weight', None if weight is None else torch.tensor([weight]), persistent=False
        )

    def configure_metrics(self) -> None:
        """F1, precision, recall and IoU of the change class."""
        metrics = MetricCollection(
            {
                'f1': BinaryF1Score(),
                'precision': BinaryPrecision(),
                'recall': BinaryRecall(),
                'iou': BinaryJaccardIndex(),
            }
        )
        self.val_metrics = metrics.clone(prefix='val/')
        self.test_metrics = metrics.clone(prefix='test/')

    def pyramid(self, image: Tensor) -> list[Tensor]:
        """Both dates through the shared encoder as one batch, fused stage by stage."""
        if image.ndim != 5 or image.shape[1] != 2:
            raise ValueError(f'Change pairs must be [B, 2, C, H, W], got {tuple(image.shape)}.')
        both = super().pyramid(image.flatten(0, 1))
        pairs = [f.unflatten(0, (-1, 2)) for f in both]
        return self.fusion([p[:, 0] for p in pairs], [p[:, 1] for p in pairs])

    def compute_loss(self, logits: Tensor, mask: Tensor) -> Tensor:
        """Pixel-wise BCE against the 0/1 change mask."""
        return F.binary_cross_entropy_with_logits(logits, mask.float(), pos_weight=self.pos_weight)

    def predict(self, logits: Tensor) -> Tensor:
        """Change probabilities (the binary metrics threshold them at 0.5)."""
        return logits.sigmoid()
