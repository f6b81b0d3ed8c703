"""A callback that appends each training batch's images, as digests, to the file ``$RECORD``
(``{rank}`` in it becomes the process's global rank: one file per DDP rank)."""

import hashlib
import json
import os
from typing import Any

from lightning.pytorch import Callback


class RecordBatches(Callback):
    """One JSON line per training batch: ``[global_step, epoch, [sha1 of each image]]``."""

    def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
        digests = [
            hashlib.sha1(image.numpy().tobytes()).hexdigest()[:12] for image in batch['image']
        ]
        with open(os.environ['RECORD'].format(rank=trainer.global_rank), 'a') as file:
            file.write(json.dumps([trainer.global_step, trainer.current_epoch, digests]) + '\n')


def recorded(path: str | os.PathLike[str]) -> list[tuple[int, int, list[str]]]:
    """The lines :class:`RecordBatches` wrote."""
    with open(path) as file:
        return [tuple(json.loads(line)) for line in file]  # type: ignore[misc]
