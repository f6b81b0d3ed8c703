"""The miniature PAPER.md §4.6 ablation: every row's config parses, and a row pretrains."""

from pathlib import Path

import pytest
import yaml

from dtcd.main import main
from dtcd.sweep import Sweep

ROOT = Path(__file__).parents[1]
DEMO = ROOT / 'experiments' / 'pretrain' / 'demo.yaml'
ROWS = sorted((ROOT / 'experiments' / 'pretrain' / 'ablation').glob('*.yaml'))


def printed_config(row: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    with pytest.raises(SystemExit) as exit_info:
        main(['fit', '--config', str(DEMO), '--config', str(row), '--print_config'])
    assert exit_info.value.code in (0, None)
    return yaml.safe_load(capsys.readouterr().out)


def test_rows_build_up_the_recipe_one_change_at_a_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """(teachers, optical stem, patch weight, photometric, rgb_source) of each row, in order."""
    recipe = []
    for row in ROWS:
        config = printed_config(row, capsys)
        model, data = config['model']['init_args'], config['data']['init_args']
        optical = [t['init_args'] for t in model['teachers'][1:]]
        recipe.append((
            len(model['teachers']),
            optical[0]['stem'] if optical else None,
            optical[0]['patch_weight'] if optical else None,
            model['multicrop']['init_args']['photometric'],
            (data['rgb_source'], data['grid']),
        ))  # fmt: skip
        dirpath = config['trainer']['callbacks'][0]['init_args']['dirpath']
        assert dirpath == f'checkpoints/ablation/{row.stem}'
        assert model['student']['init_args']['embed_dim'] == 32  # the demo student throughout
    assert [r.stem for r in ROWS] == [
        '1_ms_only', '2_cls', '3_rgb_stem', '4_patch', '5_rgb_aug', '6_hr_rgb'
    ]  # fmt: skip
    assert recipe == [
        (1, None, None, False, ('s2', 'ms')),
        (2, 'ms', 0.0, False, ('s2', 'ms')),
        (2, 'rgb', 0.0, False, ('s2', 'ms')),
        (2, 'rgb', 0.5, False, ('s2', 'ms')),
        (2, 'rgb', 0.5, True, ('s2', 'ms')),
        (2, 'rgb', 0.5, True, ('hr', 'hr')),
    ]


def test_ablation_sweep_probes_every_row_checkpoint() -> None:
    sweep = Sweep.load(ROOT / 'experiments' / 'sweeps' / 'synth_ablation.yaml')
    specs = [b.spec for b in sweep.backbones]
    assert specs[1:] == [f'checkpoints/ablation/{r.stem}/last.ckpt' for r in ROWS]
    assert {d.task_and_metric()[0] for d in sweep.datasets} == {
        'classification', 'segmentation', 'change'
    }  # fmt: skip


def test_cls_into_ms_pass_row_pretrains(
    synth_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the row writes runs/ and checkpoints/ under the working dir
    main(
        [
            'fit', '--config', str(DEMO), '--config', str(ROWS[1]),
            '--data.init_args.root', str(synth_root / 'pretrain'),
            '--data.init_args.batch_size', '8', '--data.init_args.num_workers', '0',
            '--trainer.max_steps', '2', '--trainer.enable_progress_bar', 'false',
        ]
    )  # fmt: skip
    assert (tmp_path / 'checkpoints' / 'ablation' / '2_cls' / 'last.ckpt').is_file()
