"""A NaN never reaches the last good checkpoint, whether it shows in the loss or in a weight."""

from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch.utils.data import DataLoader

from dtcd.callbacks import AtomicModelCheckpoint
from dtcd.pretrain import NonFiniteLossError, NonFiniteWeightsError
from tests.test_pretrain import Images, tiny_module, trainer


class PoisonAfterStep(Callback):
    """Set a head weight to NaN at the end of optimizer step ``step`` (before checkpointing).

    Lightning runs ModelCheckpoint after the other callbacks, so on an even step the checkpoint
    of that very step sees the NaN; on an odd step the next loss is NaN first.
    """

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: Trainer, module: LightningModule, *args: object) -> None:
        if trainer.global_step == self.step:
            with torch.no_grad():
                module.teachers[0].head.mlp[0].weight[0, 0] = float('nan')  # type: ignore[index]


@pytest.mark.parametrize(
    ('poisoned', 'options', 'error', 'reported'),
    [
        (3, {}, NonFiniteLossError, 3),
        (4, {}, NonFiniteWeightsError, 4),
        (3, {'finite_check_every_n_steps': 8}, NonFiniteWeightsError, 4),
    ],
    ids=['nan-loss', 'nan-weight-at-checkpoint', 'nan-loss-on-an-unchecked-step'],
)
def test_nan_never_overwrites_the_last_good_checkpoint(
    tmp_path: Path, poisoned: int, options: dict, error: type[Exception], reported: int
) -> None:
    """The last case trains through the NaN (its loss is not checked): the save must refuse."""
    checkpoint = AtomicModelCheckpoint(tmp_path, every_n_train_steps=2, save_last=True)
    fit = trainer(tmp_path, max_steps=8, callbacks=[checkpoint, PoisonAfterStep(poisoned)])
    with pytest.raises(error, match=rf'Non-finite .* step {reported}'):
        fit.fit(tiny_module(**options), DataLoader(Images(), batch_size=4))
    last = torch.load(tmp_path / 'last.ckpt', weights_only=False)
    assert last['global_step'] == 2
    weights = [v for v in last['state_dict'].values() if isinstance(v, torch.Tensor)]
    assert weights and all(torch.isfinite(v).all() for v in weights if v.is_floating_point())
    assert sorted(p.name for p in tmp_path.glob('*.ckpt*')) == ['epoch=0-step=2.ckpt', 'last.ckpt']
