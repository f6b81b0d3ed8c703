"""BaseProbe: the shared machinery of dtcd's downstream probes (after TorchGeo's ``BaseTask``).

A probe is configured by a backbone spec and training hyper-parameters only; what the data is
(task, band names, classes, ignore index) comes from the DataModule, so one config per dataset
serves every backbone. The networks are therefore built in :meth:`BaseProbe.setup`, when the
DataModule is known (or in :meth:`on_load_checkpoint` from what the checkpoint recorded), through
TorchGeo's ``configure_models`` / ``configure_losses`` / ``configure_metrics`` hooks.

Training follows the DEO evaluation protocol (PAPER.md §3): AdamW with a per-step linear warm-up
and cosine decay, an optionally frozen encoder, optional layer-wise lr decay when fine-tuning,
and model selection on the validation split: the probe checkpoints its best validation epoch,
and ``dtcd fit`` then tests that checkpoint (see :class:`dtcd.main.DTCDCLI`).
"""

from __future__ import annotations

import functools
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from lightning.pytorch import Callback, LightningModule
from lightning.pytorch.callbacks import ModelCheckpoint
from timm.optim import param_groups_weight_decay
from torch import Tensor
from torch.optim import AdamW
from torch.optim.lr_scheduler import LambdaLR

from dtcd import rng
from dtcd.bands import band_indices
from dtcd.distill.schedules import warmup_cosine
from dtcd.probes.backbones import ProbeBackbone, build_backbone
from dtcd.train_mode import enter_train_mode

__all__ = ['BaseProbe', 'ProbeData']

_CHECKPOINT_KEY = 'dtcd_probe_data'


@dataclass(frozen=True)
class ProbeData:
    """What a probe must know about its data to build its head and metrics.

    Attributes:
        task: ``'multiclass'``, ``'multilabel'``, ``'segmentation'`` or ``'change'``.
        bands: Names of the batches' image channels, in order.
        classes: Class names (index = label).
        ignore_index: Mask value of unlabelled pixels, if any.
    """

    task: str
    bands: tuple[str, ...]
    classes: tuple[str, ...]
    ignore_index: int | None = None

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @classmethod
    def of(cls, datamodule: Any) -> ProbeData:
        """Read the downstream-DataModule contract (``task``, ``bands``, ``classes``, …)."""
        missing = [a for a in ('task', 'bands', 'classes') if not hasattr(datamodule, a)]
        if missing:
            raise TypeError(
                f'{type(datamodule).__name__} lacks {missing}: probes need a downstream '
                'DataModule (dtcd.data.datamodules.DownstreamDataModule).'
            )
        return cls(
            task=datamodule.task,
            bands=tuple(datamodule.bands),
            classes=tuple(datamodule.classes),
            ignore_index=getattr(datamodule, 'ignore_index', None),
        )


class BaseProbe(LightningModule, ABC):
    """A backbone read out on a downstream task; subclasses add the head, loss and metrics.

    Args:
        backbone: Backbone spec (see :data:`dtcd.probes.backbones.SPEC_FORMS`).
        backbone_kwargs: Architecture overrides for ``random:``, model arguments for ``timm:``.
        backbone_weights: Local weights file of a ``timm:`` backbone.
        vit_blocks: ViT blocks feeding dense heads (default: the paper's 3, 5, 8, 11 for
            depth 12).
        freeze_backbone: Train the head only, with the encoder in eval mode.
        lr: Peak learning rate.
        weight_decay: AdamW weight decay (not on biases and norms).
        layer_decay: Fine-tuning only: the lr of a backbone layer ``d`` layers below the top is
            multiplied by ``layer_decay ** d`` (1: off).
        warmup_fraction: Share of the optimizer steps spent in linear warm-up (5 of 50 epochs
            in DEO's protocol).
        min_lr: Learning rate at the end of the cosine decay.
    """

    #: DataModule tasks this probe reads.
    tasks: ClassVar[tuple[str, ...]] = ()
    #: The task its results are reported under (``dtcd sweep``, :mod:`dtcd.analysis.report`).
    report_task: ClassVar[str] = ''

    def __init__(
        self,
        backbone: str,
        backbone_kwargs: dict[str, Any] | None = None,
        backbone_weights: str | None = None,
        vit_blocks: list[int] | None = None,
        freeze_backbone: bool = True,
        lr: float = 1e-4,
        weight_decay: float = 0.01,
        layer_decay: float = 1.0,
        warmup_fraction: float = 0.1,
        min_lr: float = 1e-6,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.data: ProbeData | None = None

    # --- what subclasses provide -------------------------------------------------------------

    @classmethod
    @abstractmethod
    def monitor_of(cls, task: str) -> tuple[str, str]:
        """The validation metric that selects the checkpoint for ``task``, and its mode."""

    @classmethod
    def reported_metric(cls, task: str | None = None) -> str:
        """The test metric reported for ``task`` data (default: the first of :attr:`tasks`): the
        one that selects the checkpoint, on the test split."""
        monitor, _ = cls.monitor_of(task or cls.tasks[0])
        return 'test/' + monitor.removeprefix('val/')

    @abstractmethod
    def configure_models(self) -> None:
        """Build the head(s) on ``self.backbone``; ``self.data`` is set."""

    @abstractmethod
    def configure_losses(self) -> None:
        """Build the loss."""

    @abstractmethod
    def configure_metrics(self) -> None:
        """Build ``self.val_metrics`` and ``self.test_metrics``."""

    # --- building ------------------------------------------------------------------------------

    def build(self, data: ProbeData) -> None:
        """Build backbone, head, loss and metrics for ``data``."""
        if data.task not in self.tasks:
            raise ValueError(
                f'{type(self).__name__} reads {list(self.tasks)} data, but the DataModule is '
                f'{data.task!r}.'
            )
        self.data = data
        self.backbone: ProbeBackbone = build_backbone(
            self.hparams['backbone'],
            data.bands,
            self.hparams['backbone_kwargs'],
            self.hparams['backbone_weights'],
            self.hparams['vit_blocks'],
        )
        index = torch.tensor(band_indices(data.bands, self.backbone.bands))
        self.register_buffer('band_index', index, persistent=False)
        if self.hparams['freeze_backbone']:
            self.backbone.requires_grad_(False).eval()
        self.configure_models()
        self.configure_losses()
        self.configure_metrics()

    def setup(self, stage: str) -> None:
        """Build from the DataModule's description of the data."""
        if self.data is None:
            self.build(ProbeData.of(self.trainer.datamodule))

    def on_fit_start(self) -> None:
        """Train the heads, a frozen encoder in eval mode (:mod:`dtcd.train_mode`)."""
        enter_train_mode(self)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Record the data description, so the checkpoint rebuilds without a DataModule; keep
        every rank's generator states (crops and flips draw from them) for an exact resume."""
        checkpoint[_CHECKPOINT_KEY] = asdict(self.data) if self.data else None
        checkpoint[rng.CHECKPOINT_KEY] = rng.gather()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Build (``load_from_checkpoint``) before the weights are loaded; restore generators."""
        recorded = checkpoint.get(_CHECKPOINT_KEY)
        if self.data is None and recorded:
            fields = {k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items()}
            self.build(ProbeData(**fields))
        if rng.CHECKPOINT_KEY in checkpoint and self._trainer is not None:
            rng.restore(checkpoint[rng.CHECKPOINT_KEY], self.global_rank)

    # --- forward helpers -------------------------------------------------------------------------

    @property
    def frozen(self) -> bool:
        """Whether the encoder is frozen."""
        return bool(self.hparams['freeze_backbone'])

    def select_bands(self, image: Tensor) -> Tensor:
        """The backbone's bands of an ``[..., C, H, W]`` batch, by name."""
        return image.index_select(-3, self.band_index)

    def encode(self, image: Tensor) -> list[Tensor]:
        """Four NCHW feature maps of a ``[B, C, H, W]`` batch (no graph when frozen)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            return self.backbone.encode(self.select_bands(image)).maps

    def train(self, mode: bool = True) -> BaseProbe:
        """Keep a frozen encoder in eval mode (no dropout, drop-path or BN updates)."""
        super().train(mode)
        if self.data is not None and self.frozen:
            self.backbone.eval()
        return self

    # --- optimisation --------------------------------------------------------------------------

    def configure_optimizers(self) -> dict[str, Any]:
        """AdamW, per-step warm-up + cosine; layer-decayed lr for a fine-tuned encoder.

        timm decides which parameters decay (not biases and other 1-D ones) and the encoder's
        layer scales (:meth:`ProbeBackbone.lr_scales`); parameters sharing both form one group.
        """
        hp = self.hparams
        backbone_scales = {} if self.frozen else self.backbone.lr_scales(hp['layer_decay'])
        decays = {  # unit weight decay: 1.0 marks the parameters that decay
            id(param): bool(group['weight_decay'])
            for group in param_groups_weight_decay(self, weight_decay=1.0)
            for param in group['params']
        }
        groups: dict[tuple[float, bool], list[torch.nn.Parameter]] = {}
        for name, param in self.named_parameters():
            if id(param) in decays:  # trainable
                scale = backbone_scales.get(name.removeprefix('backbone.'), 1.0)
                groups.setdefault((scale, decays[id(param)]), []).append(param)
        param_groups = [
            {'params': params, 'lr': hp['lr'] * scale, 'weight_decay': hp['weight_decay'] * decay}
            for (scale, decay), params in groups.items()
        ]
        optimizer = AdamW(param_groups, lr=hp['lr'])
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        schedule = functools.partial(
            _schedule,
            total=total,
            warmup=round(hp['warmup_fraction'] * total),
            final=hp['min_lr'] / hp['lr'],
        )
        scheduler = LambdaLR(optimizer, schedule)
        return {
            'optimizer': optimizer,
            'lr_scheduler': {'scheduler': scheduler, 'interval': 'step'},
        }

    def configure_callbacks(self) -> list[Callback]:
        """Keep the best validation epoch: it is the one ``dtcd fit`` tests."""
        task = self.data.task if self.data else getattr(self.trainer.datamodule, 'task', None)
        monitor, mode = self.monitor_of(task)
        return [
            ModelCheckpoint(
                monitor=monitor,
                mode=mode,
                filename='best-epoch{epoch:03d}',
                auto_insert_metric_name=False,
            )
        ]

    # --- logging -----------------------------------------------------------------------------

    def log_metrics(self, metrics: Mapping[str, Tensor]) -> None:
        """Log epoch-level torchmetrics results; a per-class vector becomes one scalar per class."""
        assert self.data is not None
        for name, value in metrics.items():
            if value.ndim == 0:
                self.log(name, value)
                continue
            for index, (class_name, item) in enumerate(zip(self.data.classes, value, strict=True)):
                if index != self.data.ignore_index:  # an ignored class has no score
                    self.log(f'{name}/{class_name}', item)

    def on_test_end(self) -> None:
        """Write the test metrics to ``<log_dir>/test_metrics.json`` (sweeps read them).

        Not under ``fast_dev_run``: like Lightning's logs and checkpoints there, a smoke run has
        no run folder and must not write into the working directory.
        """
        if not self.trainer.is_global_zero or self.trainer.fast_dev_run:
            return
        metrics = {
            k: float(v) for k, v in self.trainer.callback_metrics.items() if k.startswith('test/')
        }
        out = Path(self.trainer.log_dir or self.trainer.default_root_dir) / 'test_metrics.json'
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(metrics, indent=2, sort_keys=True) + '\n')


def _schedule(step: int, total: int, warmup: int, final: float) -> float:
    """LR factor of optimizer step ``step`` (from 0): warm-up to 1, then cosine to ``final``.

    Shifted by one so the first step already learns (``warmup_cosine`` gives 0 at step 0).
    """
    return warmup_cosine(step + 1, total, warmup, 1.0, final)
