"""TensorBoard pictures of distillation during pretraining (see :mod:`dtcd.analysis.feature_maps`).

The :class:`~dtcd.pretrain.DistillationModule` adds this callback when
``image_log_every_n_steps > 0``. It fixes the first images it sees and pictures them before the
first optimizer step, every ``every_n_steps`` steps and at the end of training, so the first and
last pictures show how far the student came; each picture's mean patch cosine is logged as a
scalar (``features/<teacher>_<pair>_cosine``) beside it.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor

from dtcd.analysis.feature_maps import distillation_pictures, render


class FeaturePictures(Callback):
    """Log :func:`~dtcd.analysis.feature_maps.distillation_pictures` of fixed images.

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
            self.images = batch['image'][: self.num_images].detach().clone()
            self.log_pictures(trainer, pl_module)

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
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
