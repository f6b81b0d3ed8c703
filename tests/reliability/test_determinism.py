"""A fixed seed gives the same run: two CPU runs of the demo config log the same losses."""

from pathlib import Path

import pytest

from dtcd.main import main
from tests.reliability.conftest import ROOT, scalars

TAGS = ('train/loss', 'train/ms/expansion', 'train/optical/cls_cosine', 'schedule/lr')


def demo_run(save_dir: Path, synth_root: Path) -> dict[str, dict[int, float]]:
    main(
        [
            'fit',
            '--config', str(ROOT / 'experiments/pretrain/demo.yaml'),
            '--data.init_args.root', str(synth_root / 'pretrain'),
            '--data.init_args.batch_size', '8',
            '--data.init_args.num_workers', '0',
            '--trainer.max_steps', '3',
            '--trainer.log_every_n_steps', '1',
            '--trainer.limit_val_batches', '0',
            '--trainer.enable_checkpointing', 'false',
            '--trainer.callbacks', 'null',
            '--trainer.logger.init_args.save_dir', str(save_dir),
            '--model.init_args.image_log_every_n_steps', '0',
        ]
    )  # fmt: skip
    run_dir = save_dir / 'demo_pretrain' / 'version_0'
    return {tag: scalars(run_dir, tag) for tag in TAGS}


@pytest.mark.slow
def test_same_seed_same_losses(tmp_path: Path, synth_root: Path) -> None:
    first = demo_run(tmp_path / 'a', synth_root)
    assert all(len(values) == 3 for values in first.values()), first
    assert first == demo_run(tmp_path / 'b', synth_root)
