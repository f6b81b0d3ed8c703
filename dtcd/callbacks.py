"""Lightning callbacks that make long pretraining runs safe to kill and resume.

Lightning 2.6 saves through an fsspec transaction whose temporary file lives in the system temp
directory (``$TMPDIR``); the commit is ``shutil.move``. When ``$TMPDIR`` and the checkpoint
folder are on different filesystems (node-local ``/tmp``, checkpoints on Lustre / NFS — the usual
cluster setup) the move is a copy into the destination: a job killed during that copy leaves a
truncated ``last.ckpt`` in place of the previous good one.
"""

from __future__ import annotations

import os
from weakref import proxy

from lightning.fabric.utilities.cloud_io import _is_local_file_protocol
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

__all__ = ['AtomicModelCheckpoint']


class AtomicModelCheckpoint(ModelCheckpoint):
    """:class:`~lightning.pytorch.callbacks.ModelCheckpoint` whose files are never partial.

    Each checkpoint is written to ``<name>.part`` beside its destination, flushed to disk, then
    renamed over it with :func:`os.replace` (atomic within one filesystem), so ``last.ckpt`` is
    always either the previous complete checkpoint or the new one, even after ``SIGKILL`` or a
    node crash. Remote (``s3://``, …) paths keep Lightning's own upload, which is atomic there.
    Arguments are ``ModelCheckpoint``'s.
    """

    def _save_checkpoint(self, trainer: Trainer, filepath: str) -> None:
        if not _is_local_file_protocol(filepath):
            super()._save_checkpoint(trainer, filepath)
            return
        partial = f'{filepath}.part'
        trainer.save_checkpoint(partial, self.save_weights_only)  # every rank; rank 0 writes
        if trainer.is_global_zero:
            _fsync(partial)
            os.replace(partial, filepath)
            _fsync(os.path.dirname(filepath) or '.')
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))


def _fsync(path: str) -> None:
    """Flush a file's (or a folder's entries') data to the disk, so a rename survives a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
