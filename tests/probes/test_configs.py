"""Every probe config parses with the real CLI and names a dtcd probe and DataModule."""

from pathlib import Path

import pytest
import yaml

from dtcd.main import main

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
