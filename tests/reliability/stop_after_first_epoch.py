"""A callback that ends a run after its first epoch, as a preempted job would stop there."""

from typing import Any

from lightning.pytorch import Callback


class StopAfterFirstEpoch(Callback):
    """Ask the trainer to stop at the end of epoch 0 (the run's ``max_epochs`` is unchanged)."""

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        trainer.should_stop = True
