"""Semantic segmentation probe: frozen encoder + UPerNet on its four stages (PAPER.md §3.2)."""

from __future__ import annotations

from typing import Any, Literal

import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

from dtcd.models.decoders import FCN, SimplePyramid, UPerNet
from dtcd.probes.base import BaseProbe

__all__ = ['SegmentationProbe']


class SegmentationProbe(BaseProbe):
    """Per-pixel classes from the encoder's four stage maps.

    Swin students feed their stages (strides 4–32) to the decoder; plain ViT baselines feed four
    blocks through :class:`~dtcd.models.decoders.SimplePyramid` first. Logits are upsampled
    bilinearly to the input size. Reports mIoU (macro over classes, unlabelled pixels ignored),
    per-class IoU and pixel accuracy.

    Args:
        *args: :class:`BaseProbe`'s, from ``backbone`` on (``vit_blocks`` feed the decoder).
        decoder: ``'upernet'`` (the paper's) or ``'fcn'`` (lighter).
        decoder_channels: Width of the decoder (512 in the paper).
        pool_scales: UPerNet's pyramid-pooling grids.
        decoder_norm: ``'batch'`` (mmsegmentation's) or ``'group'`` (for batches of one).
        loss: ``'bce'`` on one-hot masks (the paper's) or ``'ce'``.
        **kwargs: :class:`BaseProbe`'s other arguments (``lr``: 1e-4 in the paper, 1e-2 for
            PASTIS and GB-cashew).
    """

    tasks = ('segmentation',)
    report_task = 'segmentation'

    def __init__(
        self,
        *args: Any,
        decoder: Literal['upernet', 'fcn'] = 'upernet',
        decoder_channels: int = 512,
        pool_scales: list[int] | None = None,
        decoder_norm: Literal['batch', 'group'] = 'batch',
        loss: Literal['bce', 'ce'] = 'bce',
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)

    @classmethod
    def monitor_of(cls, task: str) -> tuple[str, str]:
        """Validation mIoU."""
        return 'val/miou', 'max'

    @property
    def num_outputs(self) -> int:
        """Decoder output channels."""
        assert self.data is not None
        return self.data.num_classes

    def decoder_inputs(self) -> list[int]:
        """Channels of the maps the decoder receives."""
        return list(self.backbone.feature_dims)

    def configure_models(self) -> None:
        """Neck (for ViTs) and decoder."""
        self.neck = None if self.backbone.pyramid else SimplePyramid(self.backbone.feature_dims[0])
        hp = self.hparams
        if hp['decoder'] == 'upernet':
            self.decoder = UPerNet(
                self.decoder_inputs(),
                self.num_outputs,
                hp['decoder_channels'],
                hp['pool_scales'] or (1, 2, 3, 6),
                norm=hp['decoder_norm'],
            )
        else:
            self.decoder = FCN(
                self.decoder_inputs(),
                self.num_outputs,
                hp['decoder_channels'],
                norm=hp['decoder_norm'],
            )

    def configure_losses(self) -> None:
        """BCE on one-hot masks or cross-entropy, both skipping unlabelled pixels."""
        self.ignore_index = self.data.ignore_index if self.data else None

    def configure_metrics(self) -> None:
        """mIoU, per-class IoU and pixel accuracy."""
        assert self.data is not None
        n, ignore = self.data.num_classes, self.data.ignore_index
        metrics = MetricCollection(
            {
                'miou': MulticlassJaccardIndex(n, average='macro', ignore_index=ignore),
                'iou': MulticlassJaccardIndex(n, average='none', ignore_index=ignore),
                'acc': MulticlassAccuracy(n, average='micro', ignore_index=ignore),
            }
        )
        self.val_metrics = metrics.clone(prefix='val/')
        self.test_metrics = metrics.clone(prefix='test/')

    def pyramid(self, image: Tensor) -> list[Tensor]:
        """The four maps the decoder reads."""
        features = self.encode(image)
        return features if self.neck is None else self.neck(features)

    def forward(self, image: Tensor) -> Tensor:
        """Logits ``[B, num_classes, H, W]`` at the input size."""
        logits = self.decoder(self.pyramid(image))
        return F.interpolate(logits, size=image.shape[-2:], mode='bilinear', align_corners=False)

    def compute_loss(self, logits: Tensor, mask: Tensor) -> Tensor:
        """Mean loss over labelled pixels."""
        if self.hparams['loss'] == 'ce':
            ignore = -100 if self.ignore_index is None else self.ignore_index
            return F.cross_entropy(logits, mask, ignore_index=ignore)
        valid = (
            mask.new_ones(mask.shape, dtype=bool)
            if self.ignore_index is None
            else mask != self.ignore_index
        )
        target = F.one_hot(mask.where(valid, 0), logits.shape[1]).permute(0, 3, 1, 2).float()
        per_pixel = F.binary_cross_entropy_with_logits(logits, target, reduction='none')
        weight = valid[:, None].expand_as(per_pixel).float()
        return (per_pixel * weight).sum() / weight.sum().clamp_min(1)

    def predict(self, logits: Tensor) -> Tensor:
        """What the metrics compare with the mask: class ids."""
        return logits.argmax(dim=1)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """Loss on one batch."""
        loss = self.compute_loss(self(batch['image']), batch['mask'])
        self.log('train/loss', loss, batch_size=len(batch['mask']), prog_bar=True)
        return loss

    def _evaluate(self, batch: dict[str, Tensor], metrics: MetricCollection, prefix: str) -> None:
        logits = self(batch['image'])
        loss = self.compute_loss(logits, batch['mask'])
        self.log(f'{prefix}/loss', loss, batch_size=len(batch['mask']))
        metrics.update(self.predict(logits), batch['mask'])

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        """Update the validation metrics."""
        self._evaluate(batch, self.val_metrics, 'val')

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        """Update the test metrics."""
        self._evaluate(batch, self.test_metrics, 'test')

    def on_validation_epoch_end(self) -> None:
        """Log and reset the validation metrics."""
        self.log_metrics(self.val_metrics.compute())
        self.val_metrics.reset()

    def on_test_epoch_end(self) -> None:
        """Log and reset the test metrics."""
        self.log_metrics(self.test_metrics.compute())
        self.test_metrics.reset()
