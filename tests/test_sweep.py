"""`dtcd sweep`: the grid, resuming, failures, and the paper-style report on known numbers."""

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

from dtcd.analysis.claims import Claim, claims_markdown
from dtcd.analysis.plots import plot_datasets, plot_teaser
from dtcd.analysis.report import Result, average_ranks, markdown, read_csv, write_csv
from dtcd.main import main
from dtcd.models import MultiStemSwin, load_backbone
from dtcd.sweep import Dataset, Sweep

ROOT = Path(__file__).parents[1]
SWEEPS = ROOT / 'experiments' / 'sweeps'

# backbone, dataset, task, task_group, value (one seed). Ranks per dataset, by hand:
# o1 X1 Y2 Z3 | o2 Y1 X2 Z3 | m1 Y1 X2.5 Z2.5 | m2 X1 Y2 Z3 | c1 Y1 X2.5 Z2.5
TABLE = [
    ('X', 'o1', 'segmentation', 'optical', 0.80),
    ('Y', 'o1', 'segmentation', 'optical', 0.70),
    ('Z', 'o1', 'segmentation', 'optical', 0.60),
    ('X', 'o2', 'segmentation', 'optical', 0.60),
    ('Y', 'o2', 'segmentation', 'optical', 0.70),
    ('Z', 'o2', 'segmentation', 'optical', 0.50),
    ('X', 'm1', 'segmentation', 'ms', 0.30),
    ('Y', 'm1', 'segmentation', 'ms', 0.40),
    ('Z', 'm1', 'segmentation', 'ms', 0.30),
    ('X', 'm2', 'segmentation', 'ms', 0.50),
    ('Y', 'm2', 'segmentation', 'ms', 0.20),
    ('Z', 'm2', 'segmentation', 'ms', 0.10),
    ('X', 'c1', 'classification', 'ms', 0.90),
    ('Y', 'c1', 'classification', 'ms', 0.95),
    ('Z', 'c1', 'classification', 'ms', 0.90),
]


def results(rows=TABLE, seed: int = 0) -> list[Result]:
    return [Result(b, d, t, g, 'test/x', v, seed, 1.0) for b, d, t, g, v in rows]


def table_row(md: str, section: str, backbone: str) -> list[str]:
    """Cells of ``backbone``'s row in the first table after the heading starting ``section``."""
    text = md[md.index(f'## {section}') :]
    line = next(li for li in text.splitlines() if li.startswith(f'| {backbone} |'))
    return [cell.strip() for cell in line.strip('|').split('|')][1:]


def table_header(md: str, section: str) -> list[str]:
    text = md[md.index(f'## {section}') :]
    line = next(li for li in text.splitlines() if li.startswith('| Backbone |'))
    return [cell.strip() for cell in line.strip('|').split('|')]


def test_csv_round_trip(tmp_path: Path) -> None:
    rows = results()
    write_csv(rows, tmp_path / 'r.csv')
    assert read_csv(tmp_path / 'r.csv') == rows


def test_segmentation_table_has_paper_columns_averages_and_bold_best() -> None:
    md = markdown(results())
    assert table_header(md, 'Semantic segmentation') == [
        'Backbone', 'o1', 'o2', 'Optical Avg', 'm1', 'm2', 'MS Avg', 'Avg'
    ]  # fmt: skip
    assert table_row(md, 'Semantic segmentation', 'X') == [
        '**80.00**', '60.00', '**70.00**', '30.00', '**50.00**', '**40.00**', '**55.00**'
    ]  # fmt: skip
    assert table_row(md, 'Semantic segmentation', 'Y')[2] == '**70.00**'  # a tie: both bold
    assert table_row(md, 'Semantic segmentation', 'Z')[-3:] == ['10.00', '20.00', '37.50']
    # One dataset, one group: no averages (like Table 2 has no per-group columns).
    assert table_header(md, 'Classification') == ['Backbone', 'c1']


def test_average_ranks_share_ties_and_split_groups() -> None:
    ranks = average_ranks(results())
    assert ranks['X'] == pytest.approx({'optical': 1.5, 'ms': 2.0, 'overall': 1.8})
    assert ranks['Y'] == pytest.approx({'optical': 1.5, 'ms': 4 / 3, 'overall': 1.4})
    assert ranks['Z'] == pytest.approx({'optical': 3.0, 'ms': 8 / 3, 'overall': 2.8})
    md = markdown(results())
    assert table_header(md, 'Averages')[1:] == [
        'Optical Avg', 'MS Avg', 'Rank Optical', 'Rank MS', 'Rank Overall'
    ]  # fmt: skip
    # Best overall rank first; MS average over all tasks: (30 + 50 + 90) / 3.
    assert table_row(md, 'Averages', 'X') == ['**70.00**', '**56.67**', '**1.5**', '2.0', '1.8']
    lines = md[md.index('## Averages') :].splitlines()
    assert [li[2] for li in lines if li.startswith(('| X', '| Y', '| Z'))] == ['Y', 'X', 'Z']


def test_seeds_give_mean_and_std_of_per_seed_averages() -> None:
    seed0 = [('X', 'o1', 'segmentation', 'optical', 0.80), ('X', 'o2', 'segmentation', 'ms', 0.60)]
    seed1 = [('X', 'o1', 'segmentation', 'optical', 0.82), ('X', 'o2', 'segmentation', 'ms', 0.64)]
    partial = [('Y', 'o1', 'segmentation', 'optical', 0.5)]  # Y has no o2, and only seed 0
    md = markdown(results(seed0) + results(seed1, seed=1) + results(partial))
    assert 'mean ± std over 2 seeds' in md
    # o1: mean 81, sample std of (80, 82) = 1.41; Avg: per seed 70 and 73 -> 71.50 ± 2.12.
    assert table_row(md, 'Semantic segmentation', 'X') == ['**81.00 ± 1.41**', '**62.00 ± 2.83**',
                                                           '**71.50 ± 2.12**']  # fmt: skip
    assert table_row(md, 'Semantic segmentation', 'Y') == ['50.00 ± 0.00', '–', '–']


def test_ablation_table_gives_each_rows_change_from_the_row_above() -> None:
    assert '## Ablation' not in markdown(results())
    md = markdown(results(), ablation=True)
    header = table_header(md, 'Ablation')
    assert header == ['Backbone', 'Optical Avg', 'MS Avg', 'Total Avg']
    # X: optical (80 + 60) / 2 = 70, MS (30 + 50 + 90) / 3 = 56.67, total their mean 63.33.
    assert table_row(md, 'Ablation', 'X') == ['70.00', '56.67', '63.33']
    # Y: 70, (40 + 20 + 95) / 3 = 51.67, 60.83; Z: 55, 43.33, 49.17.
    assert table_row(md, 'Ablation', 'Y') == ['70.00 (+0.00)', '51.67 (-5.00)', '60.83 (-2.50)']
    assert table_row(md, 'Ablation', 'Z') == [
        '55.00 (-15.00)', '43.33 (-8.33)', '49.17 (-11.67)'
    ]  # fmt: skip
    # Two seeds: the total's spread is over the per-seed totals.
    two = results([r for r in TABLE if r[0] == 'X']) + results(
        [(b, d, t, g, v + 0.1 * (g == 'ms')) for b, d, t, g, v in TABLE if b == 'X'], seed=1
    )
    # Per-seed totals: 63.33 and (70 + 66.67) / 2 = 68.33 -> 65.83 ± 3.54.
    assert table_row(markdown(two, ablation=True), 'Ablation', 'X')[2] == '65.83 ± 3.54'


def test_ablation_changes_carry_their_standard_error_paired_by_seed() -> None:
    # Y - X on the optical average per seed: seed 0 +10, seed 1 +6, seed 2 +8 -> mean 8,
    # std 2, SE 2 / sqrt(3) = 1.15. X's own seed-to-seed spread (30 points) does not enter.
    rows = []
    for seed, (x, y) in enumerate([(0.40, 0.50), (0.70, 0.76), (0.10, 0.18)]):
        rows += results([('X', 'o1', 'classification', 'optical', x),
                         ('Y', 'o1', 'classification', 'optical', y)], seed=seed)  # fmt: skip
    md = markdown(rows, ablation=True)
    assert table_row(md, 'Ablation', 'Y') == ['48.00 ± 29.05 (+8.00 ± 1.15)'] * 2  # Opt, Total


def test_claims_hold_only_at_two_points_and_two_standard_errors() -> None:
    def claim_rows(gains: list[float]) -> list[Result]:
        rows = []
        for seed, gain in enumerate(gains):
            pair = [('base', 'm1', 'classification', 'ms', 0.5),
                    ('new', 'm1', 'classification', 'ms', 0.5 + gain)]  # fmt: skip
            rows += results(pair, seed=seed)
        return rows

    claim = Claim('new', 'base', 'ms')
    assert claim.verdict(claim_rows([0.05, 0.04, 0.06])) == 'holds'  # +5 ± 0.58
    assert claim.verdict(claim_rows([0.015, 0.015, 0.015])) == 'fails: < 2 pts'
    assert claim.verdict(claim_rows([0.10, -0.02, 0.01])) == 'fails: ≤ 2 SE'  # +3 ± 3.79
    assert claim.verdict(claim_rows([0.05])) == 'untested (1 seed)'
    assert Claim('new', 'base', 'optical').verdict(claim_rows([0.05, 0.04])) == 'no result'
    section = claims_markdown(claim_rows([0.05, 0.04, 0.06]), [claim])
    assert '| new > base on ms | +5.00 ± 0.58 | 3 | holds |' in section
    with pytest.raises(ValueError, match='group must be one of'):
        Claim('new', 'base', 'rgb')


def test_per_seed_steps_and_backbones_pair_each_seed_with_its_own_pretraining(
    tmp_path: Path,
) -> None:
    config = str(ROOT / 'experiments' / 'probes' / 'synth_classification.yaml')
    sweep = {
        'seeds': [3, 4],
        'prepare': [
            {'name': 'data', 'run': ['synth', '--out', 'd'], 'creates': 'd'},
            {'name': 'pre', 'per_seed': True, 'creates': 'c/{seed}/last.ckpt',
             'run': ['fit', '--seed_everything={seed}', '--model={"a": {"b": 1}}']},
        ],
        'backbones': [{'name': 'pre', 'spec': 'c/{seed}/last.ckpt'},
                      {'name': 'rgb-only', 'spec': 'random:swin_t', 'task_groups': ['optical']}],
        'datasets': [{'name': 'o', 'config': config, 'task_group': 'optical'},
                     {'name': 'm', 'config': config, 'task_group': 'ms'}],
    }  # fmt: skip
    path = tmp_path / 's.yaml'
    path.write_text(yaml.safe_dump(sweep))
    loaded = Sweep.load(path)
    assert [(s.name, s.run, s.creates) for s in loaded.prepare] == [
        ('data', ('synth', '--out', 'd'), 'd'),
        ('pre_seed3', ('fit', '--seed_everything=3', '--model={"a": {"b": 1}}'), 'c/3/last.ckpt'),
        ('pre_seed4', ('fit', '--seed_everything=4', '--model={"a": {"b": 1}}'), 'c/4/last.ckpt'),
    ]  # JSON braces in arguments are left alone
    cells = {c.name: c for c in loaded.cells()}
    assert sorted(cells) == sorted(
        ['pre__o__seed3', 'pre__o__seed4', 'pre__m__seed3', 'pre__m__seed4',
         'rgb-only__o__seed3', 'rgb-only__o__seed4']
    )  # fmt: skip
    assert '--model.init_args.backbone=c/4/last.ckpt' in cells['pre__m__seed4'].command(
        tmp_path, None, []
    )
    sweep['prepare'][1]['creates'] = 'c/last.ckpt'  # every seed would overwrite one file
    path.write_text(yaml.safe_dump(sweep))
    with pytest.raises(ValueError, match=r'per_seed step needs \{seed\} in creates'):
        Sweep.load(path)


def test_plots_are_pngs(tmp_path: Path) -> None:
    rows = results() + results(TABLE, seed=1)
    for plot, name in [(plot_teaser, 'teaser.png'), (plot_datasets, 'datasets.png')]:
        with Image.open(plot(rows, tmp_path / name)) as image:
            assert image.format == 'PNG' and min(image.size) > 100


def test_cell_command_sets_backbone_seed_root_and_logs_into_the_cell() -> None:
    sweep = Sweep.load(SWEEPS / 'smoke.yaml')
    cell = sweep.cells()[1]
    assert cell.name == 'vit-tiny__synth-seg-rgb__seed0'
    cmd = cell.command(Path('/o/runs') / cell.name, '/d', ['--trainer.max_epochs=1'])
    assert cmd[1:4] == ['-m', 'dtcd.main', 'fit']
    assert '--model.init_args.backbone=timm:vit_small_patch16_dinov3' in cmd
    assert '--data.init_args.root=/d/segmentation' in cmd
    assert '--seed_everything=0' in cmd
    assert '"save_dir": "/o/runs/vit-tiny__synth-seg-rgb__seed0"' in next(
        a for a in cmd if a.startswith('--trainer.logger=')
    )
    assert cmd[-3:] == [
        '--data.init_args.bands=rgb', '--model.init_args.decoder_channels=16',
        '--trainer.max_epochs=1',
    ]  # fmt: skip


def test_paper_sweep_covers_the_papers_datasets_and_split() -> None:
    sweep = Sweep.load(SWEEPS / 'paper.yaml')
    groups = {d.name: d.task_group for d in sweep.datasets}
    assert [n for n, g in groups.items() if g == 'optical'] == [
        'SN', 'GB-cattle', 'GB-pv', 'GB-chesa.', 'LEVIR'
    ]  # fmt: skip
    assert len(groups) == 13
    tasks = [d.task_and_metric() for d in sweep.datasets]
    assert tasks.count(('segmentation', 'test/miou')) == 8
    assert tasks[-3:] == [
        ('classification', 'test/f1'), ('classification', 'test/acc'),
        ('classification', 'test/acc'),
    ]  # fmt: skip


def write_sweep(path: Path, datasets: list[str]) -> Path:
    path.write_text(
        f'backbones: [{{name: swin, spec: "random:swin_t"}}]\ndatasets: [{", ".join(datasets)}]\n'
    )
    return path


def test_failed_cell_is_reported_and_finished_cells_are_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    config = 'experiments/probes/synth_classification.yaml'
    sweep = write_sweep(
        tmp_path / 's.yaml',
        [
            f'{{name: done, config: {config}, task_group: ms}}',
            f'{{name: bad, config: {config}, task_group: ms, '
            'overrides: [--trainer.max_epochs=not-a-number]}',
        ],
    )
    out = tmp_path / 'out'
    (out / 'cells').mkdir(parents=True)
    finished = Result('swin', 'done', 'classification', 'ms', 'test/acc', 0.5, 0, 3.0)
    stored = out / 'cells' / 'swin__done__seed0.json'
    cell = Sweep.load(sweep).cells()[0]
    fingerprint = cell.fingerprint(None, [], {}).to_json()
    stored.write_text(json.dumps({'result': finished.__dict__, 'fingerprint': fingerprint}))
    before = stored.stat().st_mtime_ns
    with pytest.raises(SystemExit) as exit_info:
        main(['sweep', str(sweep), '--out', str(out)])
    assert exit_info.value.code == 1
    printed = capsys.readouterr().out
    assert re.search(r'\[1/2\] swin__done__seed0 +cached', printed)
    log = out / 'runs' / 'swin__bad__seed0' / 'log.txt'
    assert re.search(rf'\[2/2\] swin__bad__seed0 +failed exit code \d+; log: {log}', printed)
    assert 'not-a-number' in log.read_text()
    assert stored.stat().st_mtime_ns == before
    assert read_csv(out / 'results.csv') == [finished]  # the report has what finished
    assert f'Made by `dtcd sweep {sweep} --out {out}`' in (out / 'results.md').read_text()


def test_prepare_steps_run_once_before_the_grid_and_a_failed_step_stops_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # steps write relative to the working directory
    torch.manual_seed(0)
    model = MultiStemSwin(embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=4)
    torch.save(model.state_dict(), 'student.pt')
    export = {'name': 'export', 'run': ['export', 'student.pt', 'exported.safetensors'],
              'creates': 'exported.safetensors'}  # fmt: skip
    config = str(ROOT / 'experiments' / 'probes' / 'synth_classification.yaml')
    sweep = {
        'prepare': [export],
        'backbones': [{'name': 'exported', 'spec': 'exported.safetensors'}],
        'datasets': [{'name': 'bad', 'config': config, 'task_group': 'ms',
                      'overrides': ['--trainer.max_epochs=not-a-number']}],
    }  # fmt: skip
    Path('s.yaml').write_text(yaml.safe_dump(sweep))
    for status in ('done', 'cached'):
        with pytest.raises(SystemExit):  # the cell fails fast, after the step
            main(['sweep', 's.yaml', '--out', 'out'])
        printed = capsys.readouterr().out
        assert re.search(rf'\[prepare 1/1\] export +{status}\b', printed), printed
        assert re.search(r'\[1/1\] exported__bad__seed0 +failed', printed)
        if status == 'done':
            made = Path('exported.safetensors').stat().st_mtime_ns
    assert Path('exported.safetensors').stat().st_mtime_ns == made  # not redone
    exported = load_backbone('exported.safetensors')
    torch.testing.assert_close(exported.state_dict(), model.state_dict())

    # A fresh clone of committed results (no checkpoints, no markers): --report-only runs no
    # step and no cell, and writes the report from the stored cells.
    stored = Result('exported', 'bad', 'classification', 'ms', 'test/acc', 0.5, 0, 1.0)
    cell_file = Path('out/cells/exported__bad__seed0.json')
    cell = Sweep.load(Path('s.yaml')).cells()[0]
    record = {'result': stored.__dict__, 'fingerprint': cell.fingerprint(None, [], {}).to_json()}
    cell_file.write_text(json.dumps(record))
    shutil.rmtree('out/prepare')
    main(['sweep', 's.yaml', '--out', 'out', '--report-only'])
    printed = capsys.readouterr().out
    assert '[prepare' not in printed and re.search(r'exported__bad__seed0 +stored', printed)
    assert '0 done, 1 stored, 0 failed' in printed
    assert read_csv(Path('out/results.csv')) == [stored]
    assert 'Made by `dtcd sweep s.yaml --out out`' in Path('out/results.md').read_text()

    # The step runs again (no marker) and exports the same bytes: the stored cell stays valid.
    main(['sweep', 's.yaml', '--out', 'out'])
    printed = capsys.readouterr().out
    assert re.search(r'\[prepare 1/1\] export +done\b', printed), printed
    assert re.search(r'exported__bad__seed0 +cached', printed), printed

    # A step whose arguments changed runs again; a new export makes the stored cell stale: it
    # runs again (and fails here), named with what changed.
    torch.save(MultiStemSwin(embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
                             window_size=4).state_dict(), 'student.pt')  # fmt: skip
    export['run'] += ['--prefix', '']
    Path('s.yaml').write_text(yaml.safe_dump(sweep))
    with pytest.raises(SystemExit):
        main(['sweep', 's.yaml', '--out', 'out'])
    printed = capsys.readouterr().out
    assert re.search(r'\[prepare 1/1\] export +done\b', printed), printed
    assert re.search(
        r'exported__bad__seed0 +failed \(stale: exported\.safetensors changed \(sha256 \w{8} -> '
        r'\w{8}\)\) exit code \d+',
        printed,
    ), printed

    # A step that fails stops the sweep before any cell, naming its log.
    broken = {'name': 'broken', 'run': ['export', 'missing.pt', 'x.safetensors'],
              'creates': 'x.safetensors'}  # fmt: skip
    Path('s.yaml').write_text(yaml.safe_dump({**sweep, 'prepare': [export, broken]}))
    with pytest.raises(SystemExit) as exit_info:
        main(['sweep', 's.yaml', '--out', 'out2'])
    assert exit_info.value.code == 1
    printed = capsys.readouterr().out
    log = Path('out2') / 'prepare' / 'broken.log'
    assert f"FAILED prepare step 'broken' failed (exit code 1); log: {log}" in printed
    assert 'missing.pt' in log.read_text()
    assert not (Path('out2') / 'prepare' / 'broken.done').exists()
    assert not list(Path('out2').glob('runs/*'))


@pytest.mark.slow
def test_smoke_sweep_runs_and_resumes_only_missing_cells(
    synth_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    out = tmp_path / 'sweep'
    args = ['sweep', str(SWEEPS / 'smoke.yaml'), '--out', str(out), '--data-root', str(synth_root)]
    args += ['--workers', '2', '--', '--trainer.accelerator=cpu', '--trainer.max_epochs=1']
    main(args)
    rows = read_csv(out / 'results.csv')
    assert {(r.backbone, r.dataset) for r in rows} == {
        (b, d) for b in ('swin-tiny', 'vit-tiny') for d in ('synth-seg-rgb', 'synth-cls')
    }
    assert all(0 <= r.value <= 1 for r in rows)
    assert '## Semantic segmentation' in (out / 'results.md').read_text()
    for name in ('teaser.png', 'datasets.png'):
        with Image.open(out / name) as image:
            assert image.format == 'PNG'
    assert not list(out.glob('runs/*/checkpoints'))  # removed once the result is stored
    capsys.readouterr()

    cells = sorted((out / 'cells').glob('*.json'))
    redo = out / 'cells' / 'vit-tiny__synth-cls__seed0.json'
    redo.unlink()  # as if the sweep had been interrupted during this cell
    mtimes = {p: p.stat().st_mtime_ns for p in cells if p != redo}
    main(args)
    printed = capsys.readouterr().out
    assert printed.count(' cached ') == 3 and re.search(
        r'vit-tiny__synth-cls__seed0 +done', printed
    )
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    assert redo.exists() and len(read_csv(out / 'results.csv')) == 4


def test_dataset_asks_the_config_probe_class_for_task_and_metric(tmp_path: Path) -> None:
    config = tmp_path / 'probe.yaml'

    def task_and_metric(class_path: str, metric: str | None = None) -> tuple[str, str]:
        config.write_text(yaml.safe_dump({'model': {'class_path': class_path}}))
        return Dataset('d', str(config), 'ms', metric=metric).task_and_metric()

    assert task_and_metric('dtcd.probes.ChangeDetectionProbe') == ('change', 'test/f1')
    assert task_and_metric('SegmentationProbe') == ('segmentation', 'test/miou')  # bare name
    assert task_and_metric('ClassificationProbe', 'test/f1') == ('classification', 'test/f1')
    for not_a_probe in ('dtcd.models.MultiStemSwin', 'dtcd.probes.NoProbe', 'nowhere.Probe'):
        with pytest.raises(ValueError, match='is not a dtcd probe'):
            task_and_metric(not_a_probe)


@pytest.mark.slow
def test_a_changed_probe_config_reruns_its_cells_and_an_unchanged_sweep_skips_all(
    synth_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 31: a result is reused only while what produced it is the same."""
    monkeypatch.chdir(tmp_path)
    probe = (ROOT / 'experiments' / 'probes' / 'synth_classification.yaml').read_text()
    assert 'lr: 1.0e-2' in probe
    for name in ('a', 'b'):
        Path(f'{name}.yaml').write_text(probe)
    tiny = {'embed_dim': 8, 'depths': [1, 1, 1, 1], 'num_heads': [1, 1, 1, 1], 'window_size': 4}
    sweep = {
        'overrides': ['--trainer.max_epochs=1', '--trainer.accelerator=cpu',
                      '--trainer.num_sanity_val_steps=0', '--trainer.enable_model_summary=false'],
        'backbones': [{'name': 'swin', 'spec': 'random:swin_t', 'kwargs': tiny}],
        'datasets': [{'name': n, 'config': f'{n}.yaml', 'task_group': 'ms',
                      'root': str(synth_root / 'eurosat')} for n in ('a', 'b')],
    }  # fmt: skip
    Path('s.yaml').write_text(yaml.safe_dump(sweep))
    args = ['sweep', 's.yaml', '--out', 'out']
    main(args)
    assert '2 done, 0 failed' in capsys.readouterr().out
    cells = {n: Path(f'out/cells/swin__{n}__seed0.json') for n in ('a', 'b')}
    mtimes = {n: p.stat().st_mtime_ns for n, p in cells.items()}

    Path('a.yaml').write_text(probe.replace('lr: 1.0e-2', 'lr: 2.0e-2'))
    main(args)
    printed = capsys.readouterr().out
    assert re.search(
        r'swin__a__seed0 +rerun +\(stale: a\.yaml changed \(sha256 \w+ -> \w+\)\)', printed
    )
    assert re.search(r'swin__b__seed0 +cached', printed), printed
    assert '0 done, 1 rerun, 1 cached, 0 failed' in printed
    assert cells['b'].stat().st_mtime_ns == mtimes['b'] != cells['a'].stat().st_mtime_ns

    main(args)  # nothing changed since: every cell is skipped
    assert '0 done, 2 cached, 0 failed' in capsys.readouterr().out

    Path('b.yaml').write_text(probe.replace('lr: 1.0e-2', 'lr: 3.0e-2'))
    main([*args, '--keep-stale'])  # kept on request, and still named
    printed = capsys.readouterr().out
    assert '0 done, 1 cached, 1 kept, 0 failed' in printed
    assert re.search(r'KEPT STALE swin__b__seed0: b\.yaml changed', printed), printed


@pytest.mark.parametrize('name', ['synth_ablation', 'dino_small_scale'])
def test_committed_results_re_render_without_retraining(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--report-only`` rewrites a committed results folder from its cells alone (a fresh clone
    has no checkpoints and no prepare markers), byte for byte."""
    committed = ROOT / 'experiments' / 'results' / name
    out = tmp_path / name
    shutil.copytree(committed / 'cells', out / 'cells')
    main(['sweep', str(SWEEPS / f'{name}.yaml'), '--out', str(out), '--report-only'])
    printed = capsys.readouterr().out
    cells = len(list(committed.glob('cells/*.json')))
    assert f'0 done, {cells} stored, 0 failed' in printed and '[prepare' not in printed
    assert (out / 'results.csv').read_text() == (committed / 'results.csv').read_text()
    made_by = f'`dtcd sweep {SWEEPS / name}.yaml --out {out}`'
    committed_by = f'`dtcd sweep experiments/sweeps/{name}.yaml --out experiments/results/{name}`'
    rendered = (out / 'results.md').read_text().replace(made_by, committed_by)
    assert rendered == (committed / 'results.md').read_text()
