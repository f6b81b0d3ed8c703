"""The benchmark harness runs end to end on toy sizes, so it cannot rot between releases."""

import re

import pytest

from benchmarks import pretrain_step


def test_pretrain_step_benchmark_prints_summary_line(capsys: pytest.CaptureFixture[str]) -> None:
    summary = pretrain_step.main(['--preset', 'cpu-small', '--tiny', '--steps', '1'])
    lines = capsys.readouterr().out.strip().splitlines()
    pattern = r'augment_speedup=(\S+) overhead_fraction=(\S+) images_per_s=(\S+)'
    match = re.fullmatch(pattern, lines[-1])
    assert match, lines[-1]
    speedup, overhead, images_per_s = (float(v) for v in match.groups())
    assert speedup > 0 and 0 < overhead < 1 and images_per_s > 0
    assert summary['overhead_fraction'] == pytest.approx(overhead, abs=1e-3)
    assert any('each ran exactly once' in line for line in lines)
    assert any(line.startswith('| backward |') for line in lines)
