"""The benchmark harness runs end to end on toy sizes, so it cannot rot between releases."""

import re
from dataclasses import replace

import pytest
import torch

from benchmarks import pretrain_step
from benchmarks.plain_step import PlainDEO, plain_losses


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


def test_plain_baseline_computes_dtcds_losses_and_gradients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The yardstick does dtcd's work: same crops and weights give the same terms and gradients."""
    torch.manual_seed(0)
    preset = replace(pretrain_step.PRESETS['cpu-small'], **pretrain_step.TINY)
    module = pretrain_step.build_module(preset).eval()  # eval: no stochastic depth on either side
    plain = PlainDEO(module).eval()
    views = module.multicrop(torch.randn(2, 10, 40, 40))
    monkeypatch.setattr(module.multicrop, 'forward', lambda images: views)

    total, ours, _ = module.compute_losses(torch.zeros(1), progress=0.0)
    theirs = plain_losses(plain, views)
    pairs = {
        'loss': 'loss',
        'ms/compression': 'ms/compression',
        'ms/expansion': 'ms/expansion',
        'optical/cls_cosine': 'optical/cls_cosine',
        'optical/patch_0': 'optical/patch_cosine_stage3_block0',
        'optical/patch_1': 'optical/patch_cosine_stage4_block1',
    }
    for plain_name, dtcd_name in pairs.items():
        assert theirs[plain_name].item() == pytest.approx(ours[dtcd_name].item(), rel=1e-5)

    total.backward()
    theirs['loss'].backward()
    for name, param in plain.student.named_parameters():
        ours_grad = dict(module.student.named_parameters())[dtcd_student_name(name)].grad
        scale = param.grad.abs().max().clamp_min(1e-12)  # fp32 noise of two loss codings
        assert (ours_grad - param.grad).abs().max() / scale <= 1e-3, name


def dtcd_student_name(plain_name: str) -> str:
    """``stems.ms.0.weight`` (Conv2d in the plain Sequential) → ``stems.ms.proj.weight``."""
    parts = plain_name.split('.')
    if parts[0] == 'stems':
        parts[2] = {'0': 'proj', '2': 'norm'}[parts[2]]
    return '.'.join(parts)
