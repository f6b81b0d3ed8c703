"""Every probe config parses with the real CLI and names a dtcd probe and DataModule."""

import inspect
from pathlib import Path

import pytest
import yaml

from dtcd.main import main
from dtcd.probes import (
    BaseProbe,
    ChangeDetectionProbe,
    ClassificationProbe,
    SegmentationProbe,
)

ROOT = Path(__file__).parents[2]
CONFIGS = sorted((ROOT / 'experiments' / 'probes').glob('*.yaml'))
PAPER_DATASETS = (
    'eurosat', 'bigearthnet', 'so2sat', 'spacenet1', 'southafricacroptype', 'cashew',
    'chesapeake', 'pastis', 'sen1floods11', 'oscd', 'levircd',
)  # fmt: skip


def test_every_paper_dataset_has_a_config() -> None:
    names = {c.stem for c in CONFIGS}
    assert set(PAPER_DATASETS) <= names
    assert {'synth_classification', 'synth_segmentation', 'synth_change'} <= names
    assert {'geobench_eurosat', 'geobench_bigearthnet', 'geobench_so2sat'} <= names


@pytest.mark.parametrize('config', CONFIGS, ids=lambda p: p.stem)
def test_config_validates(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(['fit', '--config', str(config), '--model.init_args.lr', '0.5', '--print_config'])
    assert exit_info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed['model']['class_path'].startswith('dtcd.probes.')
    assert printed['data']['class_path'].startswith('dtcd.data.datamodules.')
    assert printed['model']['init_args']['lr'] == 0.5  # overridable on the command line


@pytest.mark.parametrize('config', ['synth_classification', 'synth_segmentation', 'synth_change'])
def test_every_base_probe_argument_reaches_the_cli(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = ROOT / 'experiments' / 'probes' / f'{config}.yaml'
    with pytest.raises(SystemExit):
        main(['fit', '--config', str(path), '--print_config'])
    init_args = yaml.safe_load(capsys.readouterr().out)['model']['init_args']
    base = set(inspect.signature(BaseProbe.__init__).parameters) - {'self'}
    assert base <= set(init_args)
    with pytest.raises(SystemExit) as exit_info:  # a misspelt argument is refused
        main(['fit', '--config', str(path), '--model.init_args.lrr', '0.5', '--print_config'])
    assert exit_info.value.code == 2


def test_probes_declare_what_they_report() -> None:
    assert (ClassificationProbe.report_task, ClassificationProbe.reported_metric()) == (
        'classification',
        'test/acc',
    )
    assert ClassificationProbe.reported_metric('multilabel') == 'test/f1'
    assert SegmentationProbe.reported_metric() == 'test/miou'
    assert (ChangeDetectionProbe.report_task, ChangeDetectionProbe.reported_metric()) == (
        'change',
        'test/f1',
    )
