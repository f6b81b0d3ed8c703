"""The `dtcd` console script: verbs and help, run as a user would."""

import subprocess
import sys
from pathlib import Path

import dtcd

DTCD = str(Path(sys.executable).parent / 'dtcd')


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DTCD, *args], capture_output=True, text=True, timeout=300)


def test_help_lists_lightning_and_dtcd_verbs() -> None:
    result = run('--help')
    assert result.returncode == 0, result.stderr
    for verb in ('fit', 'validate', 'test', 'predict', 'synth'):
        assert verb in result.stdout


def test_version() -> None:
    result = run('--version')
    assert result.stdout.strip() == f'dtcd {dtcd.__version__}'


def test_synth_rejects_unknown_preset() -> None:
    result = run('synth', '--out', 'unused', '--preset', 'huge')
    assert result.returncode != 0
    assert 'invalid choice' in result.stderr


def test_a_bad_dataset_root_is_the_last_line_not_a_union_mismatch(tmp_path: Path) -> None:
    config = Path(__file__).parents[1] / 'experiments' / 'probes' / 'geobench_eurosat.yaml'
    result = run('fit', '--config', str(config), '--data.init_args.root', str(tmp_path / 'no'))
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('dtcd.main.ConfigurationError: GEO-Bench task'), last
    assert 'recursix/geo-bench-1.0' in last
    assert 'Union subtypes' not in result.stderr
