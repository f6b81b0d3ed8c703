"""Precision resolved from the hardware: the rules with the capability probes faked both ways,
and through ``dtcd fit``'s CLI as a user runs it."""

from pathlib import Path

import pytest

import dtcd.precision
from dtcd.main import build_cli
from dtcd.precision import cpu_flags, cpu_has_native_bf16, resolve_precision

TINY = Path(__file__).parent / 'conf' / 'pretrain_tiny.yaml'
EXPERIMENTS = Path(__file__).parents[1] / 'experiments'


def native(value: bool):
    return lambda: value


@pytest.mark.parametrize(
    ('accelerator', 'cpu_bf16', 'capability', 'expected'),
    [
        ('cpu', True, None, 'bf16-mixed'),
        ('cpu', False, None, '32-true'),
        ('cuda', False, (9, 0), 'bf16-mixed'),
        ('gpu', False, (8, 0), 'bf16-mixed'),
        ('cuda', True, (7, 5), '16-mixed'),
        ('cuda', True, (6, 0), '16-mixed'),
    ],
)
def test_bf16_preference_resolves_to_what_the_device_runs_natively(
    accelerator: str, cpu_bf16: bool, capability: tuple[int, int] | None, expected: str
) -> None:
    resolved = resolve_precision('bf16-mixed', accelerator, native(cpu_bf16), lambda: capability)
    assert resolved.precision == expected
    assert resolved.reason


def test_pure_bf16_falls_back_to_fp32_not_fp16() -> None:
    """fp16 without autocast and loss scaling would underflow: only bf16-mixed becomes 16-mixed."""
    assert resolve_precision('bf16-true', 'cuda', native(False), lambda: (7, 0)).precision == (
        '32-true'
    )


@pytest.mark.parametrize('preferred', ['32-true', '16-mixed', '64-true'])
def test_other_precisions_are_kept(preferred: str) -> None:
    assert resolve_precision(preferred, 'cpu', native(False)).precision == preferred


def test_message_names_both_choices_and_the_override() -> None:
    resolved = resolve_precision('bf16-mixed', 'cpu', native(False))
    line = resolved.message('bf16-mixed')
    assert 'bf16-mixed -> 32-true' in line
    assert 'avx512_bf16' in line
    assert '--trainer.precision bf16-mixed' in line


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / 'cpuinfo'
    cpuinfo.write_text('processor\t: 0\nflags\t\t: fpu avx2 fma\n\nprocessor\t: 1\n')
    flags = cpu_flags(cpuinfo)
    assert flags == {'fpu', 'avx2', 'fma'}
    assert not cpu_has_native_bf16(flags, machine='x86_64')
    assert cpu_has_native_bf16(flags | {'avx512_bf16'}, machine='x86_64')
    assert cpu_has_native_bf16(flags | {'amx_bf16'}, machine='x86_64')
    assert cpu_has_native_bf16(frozenset({'asimd', 'bf16'}), machine='aarch64')
    assert cpu_flags(tmp_path / 'missing') == frozenset()


def bf16_config(tmp_path: Path) -> Path:
    config = tmp_path / 'bf16.yaml'
    config.write_text('trainer:\n  precision: bf16-mixed\n  logger: false\n')
    return config


@pytest.mark.parametrize(('cpu_bf16', 'expected'), [(False, '32-true'), (True, 'bf16-mixed')])
def test_cli_resolves_a_config_preference(
    tmp_path: Path,
    synth_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cpu_bf16: bool,
    expected: str,
) -> None:
    monkeypatch.setattr(dtcd.precision, 'cpu_has_native_bf16', native(cpu_bf16))
    args = ['--config', str(TINY), '--config', str(bf16_config(tmp_path))]
    cli = build_cli([*args, '--data.init_args.root', str(synth_root / 'pretrain')], run=False)
    assert cli.trainer.precision == expected
    assert 'dtcd: precision bf16-mixed' in capsys.readouterr().out


def test_cli_obeys_a_precision_given_on_the_command_line(
    tmp_path: Path, synth_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dtcd.precision, 'cpu_has_native_bf16', native(False))
    args = ['--config', str(TINY), '--config', str(bf16_config(tmp_path))]
    root = ['--data.init_args.root', str(synth_root / 'pretrain')]
    for given in (['--trainer.precision', 'bf16-mixed'], ['--trainer.precision=bf16-mixed']):
        cli = build_cli([*args, *root, *given], run=False)
        assert cli.trainer.precision == 'bf16-mixed'


@pytest.mark.parametrize(
    'config', sorted(EXPERIMENTS.rglob('*.yaml')), ids=lambda p: str(p.relative_to(EXPERIMENTS))
)
def test_no_shipped_config_runs_bf16_on_a_cpu_without_it(config: Path) -> None:
    """Every shipped config's precision, resolved for a CPU without bf16, is not bf16."""
    import yaml

    trainer = (yaml.safe_load(config.read_text()) or {}).get('trainer') or {}
    precision = str(trainer.get('precision', '32-true'))
    resolved = resolve_precision(precision, 'cpu', native(False))
    assert 'bf16' not in resolved.precision
