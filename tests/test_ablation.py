"""The miniature PAPER.md §4.6 ablation: every row's config parses, and a row pretrains."""

from pathlib import Path

import pytest
import timm
import yaml
from safetensors.torch import save_file

from dtcd.main import main
from dtcd.sweep import Sweep

ROOT = Path(__file__).parents[1]
DEMO = ROOT / 'experiments' / 'pretrain' / 'demo.yaml'
TEACHER = {'depth': 4, 'embed_dim': 96, 'num_heads': 3}  # the stand-in teacher's architecture
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


def test_ablation_sweep_makes_and_probes_the_teacher_and_every_row_per_seed() -> None:
    sweep = Sweep.load(ROOT / 'experiments' / 'sweeps' / 'synth_ablation.yaml')
    steps = {step.name: step for step in sweep.prepare}
    assert len(sweep.seeds) >= 3  # issue 15: pretraining and probes with three seeds at least
    rows = [f'{r.stem}_seed{s}' for r in ROWS for s in sweep.seeds]
    assert list(steps) == ['synth', 'optical_teacher', *rows]
    assert steps['optical_teacher'].run[0] == 'teacher'  # the stand-in taught SynthEO's materials
    for row in ROWS:  # each row and seed: the demo config with the row's delta, seeded
        for seed in sweep.seeds:
            step = steps[f'{row.stem}_seed{seed}']
            assert step.run[1:5] == ('--config', str(DEMO.relative_to(ROOT)), '--config',
                                     str(row.relative_to(ROOT)))  # fmt: skip
            assert f'--seed_everything={seed}' in step.run
            made = f'checkpoints/ablation/{row.stem}/seed{seed}'
            assert f'--trainer.callbacks.init_args.dirpath={made}' in step.run
            assert step.creates == f'{made}/last.ckpt'
    for seed in sweep.seeds:  # seed s probes the rows pretrained with seed s
        specs = [b.for_seed(seed).spec for b in sweep.backbones]
        assert specs[2:] == [steps[f'{r.stem}_seed{seed}'].creates for r in ROWS]
    teacher, random = sweep.backbones[:2]
    assert teacher.weights == steps['optical_teacher'].creates
    assert teacher.task_groups == ('optical',)  # it reads RGB only
    assert random.spec.startswith('random:') and sweep.ablation
    for row in ROWS[1:]:
        assert teacher.weights in row.read_text()
    assert {d.task_and_metric()[0] for d in sweep.datasets} == {
        'classification', 'segmentation', 'change'
    }  # fmt: skip
    names = [b.name for b in sweep.backbones]
    assert {(c.backbone, c.over) for c in sweep.claims} == {
        (names[0], 'random'), (names[2], 'random'), (names[-1], names[2])
    }  # fmt: skip


def test_cls_into_ms_pass_row_pretrains(
    synth_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the row writes runs/ and checkpoints/ under the working dir
    teacher = timm.create_model('vit_small_patch16_dinov3', pretrained=False, **TEACHER)
    (tmp_path / 'checkpoints' / 'optical_teacher').mkdir(parents=True)
    save_file(teacher.state_dict(), 'checkpoints/optical_teacher/teacher.safetensors')
    main(
        [
            'fit', '--config', str(DEMO), '--config', str(ROWS[1]),
            '--data.init_args.root', str(synth_root / 'pretrain'),
            '--data.init_args.batch_size', '8', '--data.init_args.num_workers', '0',
            '--trainer.max_steps', '2', '--trainer.enable_progress_bar', 'false',
            '--trainer.log_every_n_steps', '1',
        ]
    )  # fmt: skip
    assert (tmp_path / 'checkpoints' / 'ablation' / '2_cls' / 'last.ckpt').is_file()
