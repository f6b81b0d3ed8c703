"""The CUDA path (skipped without a GPU; `benchmarks/gpu_check.sh` runs it where there is one):
the precision the hardware gets, a real `dtcd fit` on the GPU, and CPU/GPU agreement."""

from pathlib import Path

import pytest
import torch

from dtcd.main import build_cli, main
from tests.reliability.conftest import TINY_CONFIG
from tests.test_pretrain import tiny_module

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')


def test_bf16_preference_resolves_for_this_gpu(tmp_path: Path, synth_root: Path) -> None:
    preference = tmp_path / 'gpu.yaml'
    preference.write_text(
        'trainer:\n  accelerator: gpu\n  precision: bf16-mixed\n  logger: false\n'
    )
    args = ['--config', str(TINY_CONFIG), '--config', str(preference)]
    cli = build_cli([*args, '--data.init_args.root', str(synth_root / 'pretrain')], run=False)
    native = torch.cuda.get_device_capability() >= (8, 0)
    assert cli.trainer.precision == ('bf16-mixed' if native else '16-mixed')


def test_tiny_pretraining_fits_on_the_gpu(tmp_path: Path, synth_root: Path) -> None:
    main(
        [
            'fit', '--config', str(TINY_CONFIG),
            '--data.init_args.root', str(synth_root / 'pretrain'),
            '--trainer.logger.init_args.save_dir', str(tmp_path),
            '--trainer.accelerator', 'gpu', '--trainer.precision', 'bf16-mixed',
            '--trainer.max_steps', '4',
        ]
    )  # fmt: skip
    last = tmp_path / 'tiny' / 'version_0' / 'checkpoints' / 'last.ckpt'
    saved = torch.load(last, weights_only=False, map_location='cpu')
    assert saved['global_step'] == 4
    assert all(v.isfinite().all() for v in saved['state_dict'].values() if v.is_floating_point())


def test_student_and_teachers_agree_between_cpu_and_gpu_in_fp32(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same crops through the same weights: the GPU computes what the CPU does (no TF32)."""
    monkeypatch.setattr(torch.backends.cudnn, 'allow_tf32', False)
    monkeypatch.setattr(torch.backends.cuda.matmul, 'allow_tf32', False)
    module = tiny_module().eval()
    images = torch.randn(4, 10, 32, 32)
    on_cpu = module.student.forward_features(images, 'ms')
    teacher_cpu = module.teachers[1].teacher(images, module.multicrop.bands).pooled
    module = module.cuda()
    on_gpu = module.student.forward_features(images.cuda(), 'ms')
    teacher_gpu = module.teachers[1].teacher(images.cuda(), module.multicrop.bands).pooled
    for cpu, gpu in zip(on_cpu, on_gpu, strict=True):
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(teacher_gpu.cpu(), teacher_cpu, rtol=1e-4, atol=1e-4)
