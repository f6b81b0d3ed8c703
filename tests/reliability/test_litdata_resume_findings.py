"""What LitData 0.2.76 + Lightning 2.6.6 do on a mid-epoch resume, pinned so an upgrade that
changes it is caught (README, "Pretraining at scale"; issue 25's findings):

(a) a ``configure_optimizers`` that reads ``trainer.estimated_stepping_batches`` (iterating the
    loader before its state is restored) makes the resumed epoch replay from its first sample and
    drop its last samples (Lightning issue 20550); dtcd's schedule no longer reads it;
(b) without that, non-persistent workers (2, or 0) resume the epoch right, but the next epoch
    yields only a few samples;
(c) with persistent workers the resume is exact, weights bit for bit: what dtcd builds on.

The set-up is the issue's: a 4-feature linear model, 40 samples, batch 4, a checkpoint every 3
steps, interrupted after step 4 and resumed from step 3 of epoch 0, 2 epochs.
"""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from litdata import StreamingDataLoader, StreamingDataset, optimize
from torch import Tensor, nn

SAMPLES, BATCH, EVERY = 40, 4, 3
STEPS = 2 * SAMPLES // BATCH
pytestmark = [
    # The resumed runs checkpoint into folders of their own, on purpose.
    pytest.mark.filterwarnings('ignore:The dirpath has changed'),
    pytest.mark.filterwarnings('ignore:Consider setting `persistent_workers=True`'),
]


def sample(index: int) -> dict[str, Any]:
    return {'id': index, 'x': np.random.default_rng(index).standard_normal(4, dtype=np.float32)}


@pytest.fixture(scope='module')
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp('findings') / 'shards'
    optimize(fn=sample, inputs=list(range(SAMPLES)), output_dir=str(out), chunk_bytes='1KB',
             num_workers=1, start_method='spawn')  # fmt: skip
    return out


class Linear(LightningModule):
    """Records the sample ids of every step; optionally reads ``estimated_stepping_batches``."""

    def __init__(self, reads_stepping_batches: bool) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 1)
        self.reads_stepping_batches = reads_stepping_batches
        self.seen: list[tuple[int, list[int]]] = []

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        self.seen.append((self.current_epoch, batch['id'].tolist()))
        return self.layer(batch['x']).square().mean()

    def configure_optimizers(self) -> Any:
        if self.reads_stepping_batches:
            assert self.trainer.estimated_stepping_batches == STEPS
        return torch.optim.SGD(self.parameters(), lr=0.1)


class Interrupt(Exception):
    """Stands in for the preemption."""


class InterruptAfter(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: Trainer, *args: Any) -> None:
        if trainer.global_step == self.step:
            raise Interrupt


def train(
    shards: Path, out: Path, workers: int, persistent: bool, reads: bool, **fit: Any
) -> Linear:
    seed_everything(0)
    model = Linear(reads)
    dataset = StreamingDataset(str(shards), shuffle=True, seed=0, drop_last=True)
    loader = StreamingDataLoader(dataset, batch_size=BATCH, num_workers=workers,
                                 persistent_workers=persistent)  # fmt: skip
    checkpoints = ModelCheckpoint(out, '{step}', every_n_train_steps=EVERY, save_top_k=-1)
    callbacks = [checkpoints, *fit.pop('callbacks', [])]
    trainer = Trainer(max_epochs=2, accelerator='cpu', logger=False, enable_progress_bar=False,
                      enable_model_summary=False, callbacks=callbacks,
                      default_root_dir=out)  # fmt: skip
    try:
        trainer.fit(model, loader, **fit)
    except Interrupt:
        pass
    return model


def resume(shards: Path, tmp_path: Path, workers: int, persistent: bool, reads: bool) -> tuple:
    """(straight run, resumed run's samples per epoch after the step-3 checkpoint)."""
    options = {'workers': workers, 'persistent': persistent, 'reads': reads}
    straight = train(shards, tmp_path / 'straight', **options)
    train(shards, tmp_path / 'killed', **options, callbacks=[InterruptAfter(EVERY + 1)])
    resumed = train(shards, tmp_path / 'resumed', **options,
                    ckpt_path=str(tmp_path / 'killed' / f'step={EVERY}.ckpt'))  # fmt: skip
    return straight, resumed


def ids(model: Linear, epoch: int) -> list[int]:
    return [i for e, batch in model.seen if e == epoch for i in batch]


def test_a_reading_estimated_stepping_batches_replays_the_epoch(
    shards: Path, tmp_path: Path
) -> None:
    straight, resumed = resume(shards, tmp_path, workers=0, persistent=False, reads=True)
    expected = ids(straight, 0)[EVERY * BATCH :]
    got = ids(resumed, 0)
    assert got != expected
    assert got == ids(straight, 0)[: len(got)] and len(got) == SAMPLES - EVERY * BATCH


@pytest.mark.parametrize('workers', [0, 2])
def test_b_non_persistent_workers_shorten_the_next_epoch(
    shards: Path, tmp_path: Path, workers: int
) -> None:
    straight, resumed = resume(shards, tmp_path, workers=workers, persistent=False, reads=False)
    assert ids(resumed, 0) == ids(straight, 0)[EVERY * BATCH :]
    assert len(ids(straight, 1)) == SAMPLES
    assert len(ids(resumed, 1)) == BATCH


def test_c_persistent_workers_resume_exactly(shards: Path, tmp_path: Path) -> None:
    straight, resumed = resume(shards, tmp_path, workers=2, persistent=True, reads=False)
    assert ids(resumed, 0) == ids(straight, 0)[EVERY * BATCH :]
    assert ids(resumed, 1) == ids(straight, 1) and sorted(ids(straight, 1)) == list(range(40))
    for name, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name
