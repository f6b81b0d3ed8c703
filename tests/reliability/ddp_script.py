"""A few steps of DDP pretraining on CPU (gloo), launched by torchrun from test_ddp.py.

Every rank writes ``rank<r>.pt`` to OUT with what the test compares across ranks: the student and
EMA teacher weights, its generator state when training starts, the lr of each step, the first MCR
inputs and output, and how many checkpoint files it wrote itself.
"""

import argparse
import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.plugins import TorchCheckpointIO
from torch import Tensor, nn
from torch.utils.data import DataLoader

from dtcd.callbacks import AtomicModelCheckpoint
from tests.test_pretrain import Images, tiny_module


class CountingCheckpointIO(TorchCheckpointIO):
    """Counts the checkpoint files this process writes."""

    writes = 0

    def save_checkpoint(self, *args: Any, **kwargs: Any) -> None:
        type(self).writes += 1
        super().save_checkpoint(*args, **kwargs)


class GeneratorAtStart(Callback):
    """This rank's torch generator state when training starts (after ``on_fit_start``)."""

    state: Tensor | None = None

    def on_train_start(self, trainer: Trainer, module: LightningModule) -> None:
        self.state = torch.get_rng_state()


class LearningRates(Callback):
    """The lr each optimizer step used (this rank)."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def on_train_batch_end(self, trainer: Trainer, *args: Any) -> None:
        self.values.append(trainer.optimizers[0].param_groups[0]['lr'])


def record_first_call(criterion: nn.Module) -> dict[str, Tensor]:
    """The first call's embeddings, its returned expansion term and its ε."""
    record: dict[str, Tensor] = {}

    def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: dict[str, Tensor]) -> None:
        if not record:
            record.update(
                student=inputs[0].detach().float(),
                teacher=inputs[1].detach().float(),
                expansion=output['expansion'].detach(),
                eps=torch.tensor(module.eps),
            )

    criterion.register_forward_hook(hook)
    return record


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('out', type=Path)
    parser.add_argument('--steps', type=int, default=3)
    args = parser.parse_args()
    seed_everything(0)
    module = tiny_module()
    mcr = record_first_call(module.teachers[0].objective.criterion)
    start, rates = GeneratorAtStart(), LearningRates()
    trainer = Trainer(
        accelerator='cpu',
        strategy='ddp',
        devices=int(os.environ['LOCAL_WORLD_SIZE']),
        num_nodes=int(os.environ['WORLD_SIZE']) // int(os.environ['LOCAL_WORLD_SIZE']),
        max_steps=args.steps,
        log_every_n_steps=1,
        logger=TensorBoardLogger(args.out, name='logs', version=0),
        callbacks=[
            AtomicModelCheckpoint(args.out / 'checkpoints', every_n_train_steps=1, save_last=True),
            start,
            rates,
        ],
        plugins=[CountingCheckpointIO()],
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    trainer.fit(module, DataLoader(Images(32), batch_size=4))
    result = {
        'pid': os.getpid(),
        'student': module.student.state_dict(),
        'ema': module.teachers[0].teacher.state_dict(),
        'rng_at_start': start.state,
        'mcr': mcr,
        'checkpoint_writes': CountingCheckpointIO.writes,
        'global_step': trainer.global_step,
        'lr': rates.values,
    }
    torch.save(result, args.out / f'rank{trainer.global_rank}.pt')


if __name__ == '__main__':
    main()
