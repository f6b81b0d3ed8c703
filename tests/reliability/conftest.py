"""Helpers for running `dtcd fit` like a user does: in a subprocess, from the repository root."""

import os
import socket
import subprocess
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ROOT = Path(__file__).parents[2]
TINY_CONFIG = ROOT / 'tests' / 'conf' / 'pretrain_tiny.yaml'
#: Optimizer steps per epoch of the tiny config on SynthEO's tiny preset (30 train tiles, batch 4).
STEPS_PER_EPOCH = 7


def fit_args(save_dir: Path, synth_root: Path, *extra: str) -> list[str]:
    """``dtcd fit`` arguments for the tiny config, logging and checkpointing under ``save_dir``."""
    return [
        'fit',
        '--config', str(TINY_CONFIG),
        '--data.init_args.root', str(synth_root / 'pretrain'),
        '--trainer.logger.init_args.save_dir', str(save_dir),
        *extra,
    ]  # fmt: skip


def subprocess_env(threads: int = 2) -> dict[str, str]:
    """The current environment with the repository importable and torch's threads capped."""
    return os.environ | {'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': str(threads)}


def run(command: list[str], timeout: float, threads: int = 2) -> subprocess.CompletedProcess:
    """Run ``command`` from the repository root; fail with its output's tail if it fails."""
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=subprocess_env(threads),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def dtcd(*args: str) -> list[str]:
    """The ``dtcd`` command with this interpreter."""
    return [sys.executable, '-m', 'dtcd.main', *args]


def free_port() -> int:
    """A TCP port nobody listens on now (for a rendezvous on localhost)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def scalars(run_dir: Path, tag: str) -> dict[int, float]:
    """``step -> value`` of one TensorBoard scalar of a run folder."""
    events = EventAccumulator(str(run_dir), size_guidance={'scalars': 0})
    events.Reload()
    if tag not in events.Tags()['scalars']:
        return {}
    return {e.step: e.value for e in events.Scalars(tag)}
