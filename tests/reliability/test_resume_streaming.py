"""Mid-epoch resume from LitData shards: a SIGKILLed run resumes with exactly the samples the
straight run saw next (the streaming loader's state is in the checkpoint) and ends with the same
weights."""

import signal
import subprocess
from pathlib import Path

import pytest
import torch

from tests.reliability.conftest import TINY_CONFIG, dtcd, run, subprocess_env
from tests.reliability.record_batches import recorded
from tests.reliability.test_resume_loader import max_difference

STEPS = 16  # 2 epochs of SynthEO's 32 tiny tiles in batches of 4
KILL_AT = 5  # the tiny config checkpoints every 2 steps: last.ckpt holds step 4, mid-epoch 0
RECORD = '--trainer.callbacks+=tests.reliability.record_batches.RecordBatches'
KILL = (
    '--trainer.callbacks+={"class_path": "tests.reliability.kill_at_step.KillAtStep", '
    f'"init_args": {{"step": {KILL_AT}}}}}'
)


def fit(out: Path, shards: Path, *extra: str) -> subprocess.CompletedProcess:
    """``dtcd fit`` on the shards, each batch recorded in ``out/batches.jsonl``."""
    command = fit_args(out, shards, RECORD, *extra)
    env = subprocess_env() | {'RECORD': str(out / 'batches.jsonl')}
    root = Path(__file__).parents[2]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600,
                          check=False, cwd=root)  # fmt: skip


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
    seen = recorded(straight / 'batches.jsonl')
    assert [step for step, _, _ in seen] == list(range(STEPS))
    assert recorded(killed / 'batches.jsonl')[:4] + recorded(resumed / 'batches.jsonl') == seen
    for epoch in (0, 1):
        images = [d for _, e, digests in seen if e == epoch for d in digests]
        assert len(images) == len(set(images)) == 32
