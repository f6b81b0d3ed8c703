"""Small data never gives a silent no-op run: a training split smaller than one batch trains on
the partial batch, a run that takes no step is an error, and smoke runs write nothing into the
working directory."""

import os
from pathlib import Path

import pytest
import torch

from dtcd.main import main
from tests.probes.test_cli import CONFIGS, random_tiny


def change_fit(root: Path, out: Path, *overrides: str) -> None:
    """The SynthEO change probe (2 training regions) through the CLI, one epoch."""
    main(
        [
            'fit', '--config', str(CONFIGS / 'synth_change.yaml'),
            '--data.init_args.root', str(root / 'oscd'),
            '--trainer.accelerator', 'cpu',
            '--trainer.logger', 'false',
            '--trainer.default_root_dir', str(out),
            '--trainer.enable_progress_bar', 'false',
            '--trainer.max_epochs', '1',
            *random_tiny(),
            *overrides,
        ]
    )  # fmt: skip


def test_a_split_smaller_than_the_batch_trains(synth_root: Path, tmp_path: Path) -> None:
    change_fit(synth_root, tmp_path, '--data.init_args.batch_size', '8')
    assert (tmp_path / 'test_metrics.json').is_file()
    checkpoint = next((tmp_path / 'checkpoints').glob('best-*.ckpt'))
    assert torch.load(checkpoint, weights_only=False)['global_step'] == 1  # one partial batch


def test_a_fit_without_a_training_step_is_an_error(synth_root: Path, tmp_path: Path) -> None:
    with pytest.raises(
        RuntimeError,
        match=r'took no training step.*1 training samples, batch size 1, limit_train_batches 0',
    ):
        change_fit(synth_root, tmp_path, '--trainer.limit_train_batches', '0')
    assert not (tmp_path / 'test_metrics.json').exists()


def test_fast_dev_run_writes_nothing_into_the_working_directory(
    synth_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = tmp_path / 'cwd'
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    change_fit(synth_root, tmp_path / 'run', '--trainer.fast_dev_run', 'true')
    assert os.listdir(workdir) == []
