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
