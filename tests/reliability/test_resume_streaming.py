"""Mid-epoch resume from LitData shards: a SIGKILLed run resumes with exactly the samples the
straight run saw next (the streaming loader's state is in the checkpoint) and ends with the same
weights."""

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.reliability.conftest import ROOT, TINY_CONFIG, dtcd, free_port, run, subprocess_env
from tests.reliability.record_batches import recorded
from tests.reliability.test_resume_loader import max_difference

STEPS = 16  # 2 epochs of SynthEO's 32 tiny tiles in batches of 4
KILL_AT = 5  # the tiny config checkpoints every 2 steps: last.ckpt holds step 4, mid-epoch 0
RECORD = '--trainer.callbacks+=tests.reliability.record_batches.RecordBatches'
KILL = (
    '--trainer.callbacks+={"class_path": "tests.reliability.kill_at_step.KillAtStep", '
    f'"init_args": {{"step": {KILL_AT}}}}}'
)


def fit(
    out: Path, shards: Path, *extra: str, launch: list[str] | None = None
) -> subprocess.CompletedProcess:
    """``dtcd fit`` on the shards (by ``launch``, e.g. torchrun), each batch recorded in
    ``out/batches<rank>.jsonl``."""
    command = fit_args(out, shards, RECORD, *extra)
    if launch:
        command = [*launch, *command[3:]]  # the launcher runs `-m dtcd.main` itself
    threads = 1 if launch else 2
    env = subprocess_env(threads) | {'RECORD': str(out / 'batches{rank}.jsonl')}
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


def final_weights(out: Path, steps: int = STEPS) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(out / 'checkpoints' / 'last.ckpt', weights_only=False)
    assert checkpoint['global_step'] == steps
    return checkpoint['state_dict']


@pytest.mark.slow
def test_sigkill_mid_epoch_resumes_exactly_from_streamed_shards(
    synth_root: Path, tmp_path: Path
) -> None:
    shards = tmp_path / 'shards'
    run(dtcd('shard', 'synth', str(synth_root), str(shards)), timeout=300)
    straight = tmp_path / 'straight'
    assert fit(straight, shards).returncode == 0

    killed = tmp_path / 'killed'
    assert fit(killed, shards, KILL).returncode == -signal.SIGKILL
    last = killed / 'checkpoints' / 'last.ckpt'
    assert torch.load(last, weights_only=False)['global_step'] == 4

    resumed = tmp_path / 'resumed'
    done = fit(resumed, shards, '--ckpt_path', str(last))
    assert done.returncode == 0, done.stderr[-3000:]
    assert f'resuming from {last} at optimizer step 4' in done.stderr
    assert max_difference(final_weights(resumed), final_weights(straight)) <= 1e-6

    # The batches: killed run's first 4, then the resumed run's, are the straight run's; every
    # tile exactly once per epoch.
    seen = recorded(straight / 'batches0.jsonl')
    assert [step for step, _, _ in seen] == list(range(STEPS))
    assert recorded(killed / 'batches0.jsonl')[:4] + recorded(resumed / 'batches0.jsonl') == seen
    for epoch in (0, 1):
        images = [d for _, e, digests in seen if e == epoch for d in digests]
        assert len(images) == len(set(images)) == 32


DDP_STEPS = 8  # 2 epochs of 32 tiles in global batches of 2 ranks x 4


@pytest.mark.slow
def test_sigkill_mid_epoch_resumes_exactly_under_two_process_ddp(
    synth_root: Path, tmp_path: Path
) -> None:
    """torchrun, 2 processes (gloo), 2 persistent loader workers each; killed at step 3 with
    last.ckpt at step 2 (mid-epoch 0); each tile once per epoch across the ranks."""
    shards = tmp_path / 'shards'
    run(dtcd('shard', 'synth', str(synth_root), str(shards)), timeout=300)
    torchrun = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2']
    ddp = ['--trainer.strategy', 'ddp', '--trainer.devices', '2']

    def launch(out: Path, *extra: str) -> subprocess.CompletedProcess:
        port = ['--master_port', str(free_port())]
        return fit(out, shards, *ddp, *extra, launch=[*torchrun, *port, '-m', 'dtcd.main'])

    straight = tmp_path / 'straight'
    done = launch(straight)
    assert done.returncode == 0, done.stderr[-3000:]
    kill = KILL.replace(f'"step": {KILL_AT}', '"step": 3')
    assert launch(tmp_path / 'killed', kill).returncode != 0
    last = tmp_path / 'killed' / 'checkpoints' / 'last.ckpt'
    assert torch.load(last, weights_only=False)['global_step'] == 2
    resumed = tmp_path / 'resumed'
    done = launch(resumed, '--ckpt_path', str(last))
    assert done.returncode == 0, done.stderr[-3000:]
    difference = max_difference(
        final_weights(resumed, DDP_STEPS), final_weights(straight, DDP_STEPS)
    )
    assert difference <= 1e-6

    for rank in (0, 1):
        seen = recorded(straight / f'batches{rank}.jsonl')
        assert [step for step, _, _ in seen] == list(range(DDP_STEPS))
        killed = recorded(tmp_path / 'killed' / f'batches{rank}.jsonl')
        assert killed[:2] + recorded(resumed / f'batches{rank}.jsonl') == seen
    for epoch in (0, 1):
        lines = [line for rank in (0, 1) for line in recorded(straight / f'batches{rank}.jsonl')]
        images = [d for _, e, digests in lines if e == epoch for d in digests]
        assert len(images) == len(set(images)) == 32
