"""The demo's configs for the real and the control runs, and its comparison table."""

from pathlib import Path

import pytest
import torch
import yaml

from dtcd.demo import compare_with_random, demo_config


@pytest.mark.parametrize('control', [None, 'random-teachers', 'shuffled-targets'])
def test_demo_config_sets_the_teacher_and_each_control(tmp_path: Path, control: str | None) -> None:
    path = demo_config(tmp_path, tmp_path / 'w.safetensors', control)
    config = yaml.safe_load(path.read_text())
    teachers = config['model']['init_args']['teachers']
    if control == 'shuffled-targets':
        assert [t['class_path'] for t in teachers] == ['dtcd.distill.ShuffledTargets'] * 2
        teachers = [t['init_args']['teacher'] for t in teachers]
    ms, optical = teachers
    assert (optical['init_args']['stem'], optical['init_args']['patch_weight']) == ('ms', 0.0)
    weights = optical['init_args']['teacher']['init_args']['weights']
    assert weights == (None if control == 'random-teachers' else str(tmp_path / 'w.safetensors'))
    assert ms['init_args']['momentum'] == (
        [1.0, 1.0] if control == 'random-teachers' else [0.99, 1.0]
    )
    assert config['trainer']['logger']['init_args']['name'] == path.stem


def test_compare_with_random_prints_gains_with_their_interval(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ours = {'linear': torch.ones(100, dtype=torch.bool), 'knn': torch.arange(100) < 60}
    randoms = [{'linear': torch.arange(100) < 50, 'knn': torch.arange(100) < 60}] * 3
    results = compare_with_random('pretrained', ours, randoms)
    assert results['gain'] == {'linear': pytest.approx(0.5), 'knn': 0.0}
    assert results['gain_low']['linear'] < 0.5 < results['gain_high']['linear']
    assert results['gain_low']['knn'] == results['gain_high']['knn'] == 0.0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == '| pretrained | 1.000 | 0.600 |'
    assert lines[3] == '| random init (3 seeds, mean ± std) | 0.500 ± 0.000 | 0.600 ± 0.000 |'
    assert lines[4].startswith(
        '| gain over random (95 % paired bootstrap over test images) | +0.500 ['
    )
