"""Lightning plumbing that makes long pretraining runs safe to kill and resume.

Lightning 2.6 saves through an fsspec transaction whose temporary file lives in the system temp
directory (``$TMPDIR``); the commit is ``shutil.move``. When ``$TMPDIR`` and the checkpoint
folder are on different filesystems (node-local ``/tmp``, checkpoints on Lustre / NFS — the usual
cluster setup) the move is a copy into the destination: a job killed during that copy leaves a
truncated file in place of the previous good one. That includes the SLURM requeue checkpoint
(``hpc_ckpt_*.ckpt``), which the next job of the allocation resumes from first.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from fsspec.core import url_to_fs
from lightning.fabric.utilities.cloud_io import _is_local_file_protocol
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

__all__ = ['AtomicCheckpointIO', 'AtomicModelCheckpoint']


class AtomicCheckpointIO(TorchCheckpointIO):
    """:class:`~lightning.pytorch.plugins.io.TorchCheckpointIO` whose files are never partial.

    Each checkpoint is written to a hidden temporary file beside its destination, flushed to disk,
    then renamed over it with :func:`os.replace` (atomic within one filesystem), so a checkpoint
    path always holds either the previous complete file or the new one, even after ``SIGKILL`` or
    a node crash. The temporary name (``.dtcd-<random>.part``) carries neither ``.ckpt`` nor
    ``ckpt_``: one left by a kill is never taken for a checkpoint, nor for a SLURM requeue version
    (Lightning resumes from the highest number in any name containing ``hpc_ckpt_``). A failed
    write removes it. Remote (``s3://``, …) paths keep Lightning's own upload, which is atomic
    there. Pass it as ``Trainer(plugins=[AtomicCheckpointIO()])``, or use
    :class:`AtomicModelCheckpoint`.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        """Write ``checkpoint`` to ``path`` through a flushed temporary file and a rename."""
        if storage_options is not None or not _is_local_file_protocol(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        path = Path(url_to_fs(str(path))[1])  # 'file://' URLs too
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix='.dtcd-', suffix='.part', delete=False
        ) as file:
            partial = Path(file.name)
            try:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            except BaseException:
                partial.unlink()
                raise
        os.replace(partial, path)
        _fsync_folder(path.parent)


class AtomicModelCheckpoint(ModelCheckpoint):
    """:class:`~lightning.pytorch.callbacks.ModelCheckpoint` that makes the trainer's saves atomic.

    At setup it swaps the trainer's default :class:`TorchCheckpointIO` for
    :class:`AtomicCheckpointIO`, so its own checkpoints and any other the trainer writes through
    it (the SLURM requeue checkpoint, ``trainer.save_checkpoint``) are never partial. Any other
    checkpoint IO (a subclass, ``AsyncCheckpointIO``, a cloud one) is left as it is, and so are
    strategies that save without one (FSDP sharded, DeepSpeed). With ``save_last``, ``last.ckpt``
    is written at every epoch-end save point even when ``save_top_k=0`` (see
    :meth:`_save_last_at_epoch_end`). Arguments are ``ModelCheckpoint``'s.
    """

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Install :class:`AtomicCheckpointIO` in place of Lightning's default one."""
        super().setup(trainer, pl_module, stage)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Lightning's epoch-end save, then ``last.ckpt`` if Lightning skipped it."""
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._save_last_at_epoch_end(trainer)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Lightning's after-validation save, then ``last.ckpt`` if Lightning skipped it."""
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._save_last_at_epoch_end(trainer)

    def _save_last_at_epoch_end(self, trainer: Trainer) -> None:
        """Write ``last.ckpt`` at each epoch-end save point, also with ``save_top_k=0``.

        Since Lightning 2.5 the epoch-end hooks write ``last.ckpt`` only when a top-k checkpoint
        was saved at the same step, so ``save_last=True, save_top_k=0`` (keep only the latest
        state) wrote it once, when training ended: a run killed before then had nothing to resume.
        """
        every = self._every_n_epochs
        if not self.save_last or every < 1 or (trainer.current_epoch + 1) % every:
            return
        if not self._should_skip_saving_checkpoint(trainer):  # also: already saved at this step
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


def _fsync_folder(folder: Path) -> None:
    """Flush a folder's entries to the disk, so a rename in it survives a crash."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
