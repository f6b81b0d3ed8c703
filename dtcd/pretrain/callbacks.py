"""What pretraining watches besides its loss, as Lightning callbacks the module adds itself.

- :class:`CollapseMonitors`: per-dimension std and effective rank of the student's embeddings,
  on the steps Lightning writes logs.
- :class:`FeaturePictures`: TensorBoard pictures of distillation
  (:mod:`dtcd.analysis.feature_maps`).
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor

from dtcd.analysis.feature_maps import distillation_pictures, render
from dtcd.monitor import effective_rank, embedding_std


def log_due(trainer: Trainer, step: int) -> bool:
    """Whether Lightning writes logs for the batch of optimizer step ``step`` (0-based)."""
    return bool(
        trainer.fast_dev_run or trainer.should_stop or (step + 1) % trainer.log_every_n_steps == 0
    )


class CollapseMonitors(Callback):
    """Log ``monitor/<name>_std`` and ``monitor/<name>_rank`` of each teacher's student features.

    The step hands its student outputs over (``outputs['student']``) only when logs are due, so
    the SVD of the effective rank runs only then.
    """

    @torch.no_grad()
    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """Compute and log the monitors of this step's student outputs, when handed over."""
        student = outputs.get('student') if isinstance(outputs, dict) else None
        if student is None:
            return
        size = batch['image'].shape[0]
        for teacher in pl_module.teachers:  # type: ignore[attr-defined]
            with trainer.precision_plugin.forward_context():  # the step's autocast, for heads
                named = teacher.student_features(student)
            for name, features in named.items():
                features = features.float()
                pl_module.log(f'monitor/{name}_std', embedding_std(features), batch_size=size)
                pl_module.log(f'monitor/{name}_rank', effective_rank(features), batch_size=size)


class FeaturePictures(Callback):
    """Log :func:`~dtcd.analysis.feature_maps.distillation_pictures` of fixed images.

    It fixes the first images it sees and pictures them before the first optimizer step, every
    ``every_n_steps`` steps and at the end of training, so the first and last pictures show how
    far the student came; each picture's mean patch cosine is logged as a scalar
    (``features/<teacher>_<pair>_cosine``) beside it.

    Args:
        every_n_steps: Optimizer steps between pictures.
        num_images: Images of the first training batch to picture.
    """

    def __init__(self, every_n_steps: int, num_images: int = 4) -> None:
        self.every_n_steps = every_n_steps
        self.num_images = num_images
        self.images: Tensor | None = None
        self._last_step: int | None = None

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Keep the first images; picture them before any training."""
        if self.images is None:
            images = batch['image'][: self.num_images]
            # Of a multi-date batch [B, T, C, H, W], the first date of each location.
            self.images = (images[:, 0] if images.ndim == 5 else images).detach().clone()
            self.log_pictures(trainer, pl_module)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *_: Any) -> None:
        """Picture every ``every_n_steps`` optimizer steps."""
        if trainer.global_step % self.every_n_steps == 0:
            self.log_pictures(trainer, pl_module)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """The last picture, at the final step."""
        self.log_pictures(trainer, pl_module)

    def log_pictures(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Render and log every feature pair once per step, on rank 0, to TensorBoard."""
        step = trainer.global_step
        experiment = getattr(trainer.logger, 'experiment', None)
        if (
            self.images is None
            or step == self._last_step
            or not trainer.is_global_zero
            or not hasattr(experiment, 'add_figure')  # TensorBoard's SummaryWriter
        ):
            return
        self._last_step = step
        for picture in distillation_pictures(pl_module, self.images):  # type: ignore[arg-type]
            experiment.add_figure(f'features/{picture.key}', render(picture), step)
            experiment.add_scalar(f'features/{picture.key}_cosine', picture.mean_cosine, step)
