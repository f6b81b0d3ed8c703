"""Mid-epoch resume from LitData shards under 2-process DDP (torchrun, gloo, 2 persistent loader
workers per rank): a SIGKILLed run resumes with exactly the samples the straight run saw next
(the streaming loader's state is in the checkpoint) and ends with the same weights."""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from tests.conftest import ShardSet
from tests.reliability.conftest import ROOT, TINY_CONFIG, dtcd, free_port, subprocess_env
from tests.reliability.record_batches import recorded
from tests.reliability.test_resume_loader import max_difference

STEPS = 8  # 2 epochs of SynthEO's 32 tiny tiles in global batches of 2 ranks x 4
KILL_AT = 3  # the tiny config checkpoints every 2 steps: last.ckpt holds step 2, mid-epoch 0
RECORD = '--trainer.callbacks+=tests.reliability.record_batches.RecordBatches'
KILL = (
    '--trainer.callbacks+={"class_path": "tests.reliability.kill_at_step.KillAtStep", '
    f'"init_args": {{"step": {KILL_AT}}}}}'
)
TORCHRUN = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2']


def fit(out: Path, shards: Path, *extra: str) -> subprocess.CompletedProcess:
    """``dtcd fit`` on the shards under torchrun; rank r's batches in ``out/batches<r>.jsonl``."""
    launch = [*TORCHRUN, '--master_port', str(free_port()), '-m', 'dtcd.main']
    ddp = ['--trainer.strategy', 'ddp', '--trainer.devices', '2']
    command = [*launch, *fit_args(out, shards, RECORD, *ddp, *extra)[3:]]  # after `-m dtcd.main`
    env = subprocess_env(threads=1) | {'RECORD': str(out / 'batches{rank}.jsonl')}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600,
                          check=False, cwd=ROOT)  # fmt: skip


def fit_args(out: Path, shards: Path, *extra: str) -> list[str]:
    data = out / 'data.yaml'
    out.mkdir(parents=True, exist_ok=True)
    data.write_text(
        'data:\n  class_path: dtcd.data.datamodules.StreamingPretrainDataModule\n'
        f'  init_args: {{input_dir: {shards}, batch_size: 4, num_workers: 2,'
        ' persistent_workers: true}\n'
    )
    return dtcd(
        'fit', '--config', str(TINY_CONFIG), '--config', str(data),
        '--trainer.logger.init_args.save_dir', str(out),
        '--trainer.callbacks.init_args.dirpath', str(out / 'checkpoints'), *extra,
    )  # fmt: skip


def final_weights(out: Path) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(out / 'checkpoints' / 'last.ckpt', weights_only=False)
    assert checkpoint['global_step'] == STEPS
    return checkpoint['state_dict']


@pytest.mark.slow
def test_sigkill_mid_epoch_resumes_exactly_under_two_process_ddp(
    sharded: Callable[[str], ShardSet], tmp_path: Path
) -> None:
    """Killed at step 3 with last.ckpt at step 2 (mid-epoch 0); each tile once per epoch across
    the ranks."""
    shards = sharded('synth').shards
    straight = tmp_path / 'straight'
    done = fit(straight, shards)
    assert done.returncode == 0, done.stderr[-3000:]
    assert fit(tmp_path / 'killed', shards, KILL).returncode != 0
    last = tmp_path / 'killed' / 'checkpoints' / 'last.ckpt'
    assert torch.load(last, weights_only=False)['global_step'] == 2
    resumed = tmp_path / 'resumed'
    done = fit(resumed, shards, '--ckpt_path', str(last))
    assert done.returncode == 0, done.stderr[-3000:]
    assert f'resuming from {last} at optimizer step 2' in done.stderr
    assert max_difference(final_weights(resumed), final_weights(straight)) <= 1e-6

    for rank in (0, 1):
        seen = recorded(straight / f'batches{rank}.jsonl')
        assert [step for step, _, _ in seen] == list(range(STEPS))
        killed = recorded(tmp_path / 'killed' / f'batches{rank}.jsonl')
        assert killed[:2] + recorded(resumed / f'batches{rank}.jsonl') == seen
    for epoch in (0, 1):
        lines = [line for rank in (0, 1) for line in recorded(straight / f'batches{rank}.jsonl')]
        images = [d for _, e, digests in lines if e == epoch for d in digests]
        assert len(images) == len(set(images)) == 32
