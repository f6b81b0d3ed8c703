"""A callback that SIGKILLs its own process once training reaches a step: a preempted job."""

import os
import signal
from typing import Any

from lightning.pytorch import Callback


class KillAtStep(Callback):
    """SIGKILL this process (no clean-up, no final checkpoint) when ``global_step`` is ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)
