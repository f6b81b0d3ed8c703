"""A killed run resumes from a complete checkpoint with continuous schedules; a changed teacher
weights file is refused on resume."""

import io
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.plugins import TorchCheckpointIO
from safetensors.torch import save_file
from torch.utils.data import DataLoader

from dtcd.augment import MultiCrop
from dtcd.callbacks import AtomicCheckpointIO, AtomicModelCheckpoint
from dtcd.distill import MCRObjective, OpticalDistillation, SelfDistillation
from dtcd.distill.schedules import warmup_cosine
from dtcd.models import FrozenTeacher, MultiStemSwin
from dtcd.pretrain import DistillationModule
from tests.reliability.conftest import (
    ROOT,
    STEPS_PER_EPOCH,
    dtcd,
    fit_args,
    run,
    scalars,
    subprocess_env,
)
from tests.test_pretrain import Images, tiny_module, trainer

TEACHER = 'vit_small_patch16_dinov3'
TEACHER_KWARGS = {'depth': 2, 'embed_dim': 48, 'num_heads': 2}


@pytest.mark.slow
def test_sigkill_mid_epoch_resumes_with_continuous_schedules(
    tmp_path: Path, synth_root: Path
) -> None:
    """SIGKILL gives no chance to clean up: what is on disk must be a complete checkpoint."""
    args = fit_args(tmp_path, synth_root)
    checkpoints = tmp_path / 'tiny' / 'version_0' / 'checkpoints'
    last = checkpoints / 'last.ckpt'
    with subprocess.Popen(
        dtcd(*args), cwd=ROOT, env=subprocess_env(), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as killed:  # fmt: skip
        deadline = time.monotonic() + 120
        while not last.exists():
            assert killed.poll() is None, killed.stderr.read()[-4000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, 'no checkpoint after 120 s'
            time.sleep(0.02)
        killed.send_signal(signal.SIGKILL)
        killed.wait()
    assert killed.returncode == -signal.SIGKILL
    saved = torch.load(last, weights_only=False)  # complete, whatever the kill interrupted
    start = saved['global_step']
    assert start % 2 == 0 and 0 < start < 2 * STEPS_PER_EPOCH
    assert start % STEPS_PER_EPOCH != 0, 'not mid-epoch: make the kill come sooner'

    run(dtcd(*args, '--ckpt_path', str(last)), timeout=300)
    total = 2 * STEPS_PER_EPOCH
    checkpoints = tmp_path / 'tiny' / 'version_1' / 'checkpoints'  # the resumed run's logger
    assert torch.load(checkpoints / 'last.ckpt', weights_only=False)['global_step'] == total
    assert sorted(p.name for p in checkpoints.iterdir()) == ['last.ckpt']  # no .part left
    resumed = scalars(tmp_path / 'tiny' / 'version_1', 'schedule/lr')
    assert sorted(resumed) == list(range(start, total))
    warmup = round(0.3 * total)  # the config's warmup_fraction; peak lr 2e-3 at batch 4
    for step, lr in resumed.items():
        assert lr == pytest.approx(warmup_cosine(step, total, warmup, 2e-3, 1e-6), rel=1e-5)
    before = scalars(tmp_path / 'tiny' / 'version_0', 'schedule/lr')  # what was flushed
    for step in before.keys() & resumed.keys():
        assert before[step] == pytest.approx(resumed[step], rel=1e-6)


def die_on_second_save(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The second ``torch.save`` writes half its bytes, then fails: a kill or a full disk.

    Returns the names of the files ``torch.save`` wrote to, in order, as they are written.
    """
    real_save, written = torch.save, []

    def save(obj: Any, file: Any, *args: Any, **kwargs: Any) -> None:
        written.append(getattr(file, 'name', repr(file)))
        if len(written) < 2:
            return real_save(obj, file, *args, **kwargs)
        buffer = io.BytesIO()
        real_save(obj, buffer)
        file.write(buffer.getvalue()[: buffer.tell() // 2])
        raise OSError('No space left on device')

    monkeypatch.setattr(torch, 'save', save)
    return written


def test_interrupted_write_leaves_the_previous_checkpoint_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = AtomicModelCheckpoint(
        tmp_path, every_n_train_steps=2, save_last=True, save_top_k=0
    )
    fit = trainer(tmp_path, max_steps=4, callbacks=[checkpoint])
    written = die_on_second_save(monkeypatch)
    with pytest.raises(OSError, match='No space left'):
        fit.fit(tiny_module(), DataLoader(Images(), batch_size=4))
    assert torch.load(tmp_path / 'last.ckpt', weights_only=False)['global_step'] == 2
    broken = Path(written[1])  # the half write went to a temporary file beside the target ...
    assert broken.parent == tmp_path and broken.name != 'last.ckpt'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['last.ckpt']  # ... which was removed


def test_slurm_requeue_resumes_from_the_last_whole_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lightning's SIGUSR1 handler saves ``hpc_ckpt_<n+1>.ckpt`` with ``trainer.save_checkpoint``;
    the requeued job resumes from the highest ``n`` found in any file name holding ``hpc_ckpt_``.
    """
    checkpoint = AtomicModelCheckpoint(tmp_path / 'checkpoints', save_top_k=0)
    fit = trainer(tmp_path, max_steps=2, callbacks=[checkpoint])
    fit.fit(tiny_module(), DataLoader(Images(), batch_size=4))
    assert type(fit.strategy.checkpoint_io) is AtomicCheckpointIO
    connector = fit._checkpoint_connector
    written = die_on_second_save(monkeypatch)
    fit.save_checkpoint(connector.hpc_save_path(tmp_path))  # the first requeue
    with pytest.raises(OSError, match='No space left'):  # the second, killed mid-write
        fit.save_checkpoint(connector.hpc_save_path(tmp_path))
    Path(written[1]).write_bytes(b'half')  # as a SIGKILL would leave it: nothing cleans up
    resume = Path(connector._hpc_resume_path)
    assert resume.name == 'hpc_ckpt_1.ckpt'
    assert torch.load(resume, weights_only=False)['global_step'] == 2


@pytest.mark.parametrize('validate', [False, True], ids=['no-val', 'val'])
def test_last_checkpoint_is_written_every_epoch_with_save_top_k_0(
    tmp_path: Path, validate: bool
) -> None:
    """Lightning 2.5+ alone would write ``last.ckpt`` only when training ends (see the callback)."""
    seen: list[int | None] = []

    class LastStepAtEpochStart(Callback):
        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            last = tmp_path / 'last.ckpt'
            step = torch.load(last, weights_only=False)['global_step'] if last.exists() else None
            seen.append(step)

    checkpoint = AtomicModelCheckpoint(tmp_path, save_last=True, save_top_k=0)
    fit = trainer(
        tmp_path,
        max_epochs=3,
        limit_val_batches=1 if validate else 0,
        callbacks=[checkpoint, LastStepAtEpochStart()],
    )
    loader = DataLoader(Images(), batch_size=4)  # 4 steps per epoch
    fit.fit(tiny_module(), loader, val_dataloaders=loader if validate else None)
    assert seen == [None, 4, 8]
    assert torch.load(tmp_path / 'last.ckpt', weights_only=False)['global_step'] == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ['last.ckpt']


class CustomIO(TorchCheckpointIO):
    """Stands for an async or cloud checkpoint IO that the callback must not replace."""


def test_a_custom_checkpoint_io_is_kept(tmp_path: Path) -> None:
    custom = CustomIO()
    checkpoint = AtomicModelCheckpoint(tmp_path, save_top_k=0)
    fit = trainer(tmp_path, max_steps=1, callbacks=[checkpoint], plugins=[custom])
    fit.fit(tiny_module(), DataLoader(Images(), batch_size=4))
    assert fit.strategy.checkpoint_io is custom


def module_with_teacher(weights: Path) -> DistillationModule:
    torch.manual_seed(0)
    student = MultiStemSwin(
        variant=None, embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4
    )
    teacher = FrozenTeacher(
        TEACHER, str(weights), blocks=[0, 1], normalization=None, model_kwargs=TEACHER_KWARGS
    )
    teachers = [
        SelfDistillation(MCRObjective(out_dim=16, hidden_dim=32)),
        OpticalDistillation(teacher, hidden_dim=32),
    ]
    multicrop = MultiCrop(global_size=32, local_size=16, num_local=2, blur_kernel_size=5)
    return DistillationModule(student, teachers, multicrop)


def test_resume_refuses_changed_teacher_weights(tmp_path: Path) -> None:
    weights = tmp_path / 'teacher.safetensors'
    state = timm.create_model(TEACHER, pretrained=False, **TEACHER_KWARGS).state_dict()
    save_file(state, weights)
    fit = trainer(tmp_path, max_steps=1, callbacks=[ModelCheckpoint(tmp_path, save_last=True)])
    fit.fit(module_with_teacher(weights), DataLoader(Images(8), batch_size=4))

    save_file({k: v + 1 for k, v in state.items()}, weights)  # the file changed in between
    fit = trainer(tmp_path, max_steps=2)
    with pytest.raises(RuntimeError, match=r'sha256.*Point the teacher.*start a new run'):
        fit.fit(
            module_with_teacher(weights),
            DataLoader(Images(8), batch_size=4),
            ckpt_path=str(tmp_path / 'last.ckpt'),
        )
