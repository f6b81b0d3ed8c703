"""One DEO training step, dtcd against a replica of the authors' step written from PAPER.md §2.3,
§2.4 and §8 (not from dtcd's loss code): identical crops and weights give the same loss terms
and the same gradients, with stochastic depth off, with the EMA teacher in dtcd's eval mode and
in the authors' train mode (the reference profile's ``teacher_mode: train``)."""

import copy
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import StochasticDepth

from benchmarks.plain_step import coding_rate, cross_view, mlp_head
from dtcd.augment import MultiCrop, MultiCropViews
from dtcd.distill import MCRObjective, OpticalDistillation, SelfDistillation
from dtcd.models import FrozenTeacher
from dtcd.models.checkpoints import load_deo_weights
from dtcd.pretrain import DistillationModule
from tests.models.conftest import DEOReference

BATCH, LOCAL, EPS = 2, 2, 0.05
TEACHER_BLOCKS = (2, 3)  # a 4-block stand-in for DINOv3's blocks 8 and 11
TEACHER_KWARGS = {'depth': 4, 'embed_dim': 48, 'num_heads': 3}


class FixedCrops(MultiCrop):
    """Hands the training step crops made beforehand, so both sides see the same ones."""

    def __init__(self, views: MultiCropViews) -> None:
        super().__init__(global_size=224, local_size=96, num_local=LOCAL)
        self.views = views

    def forward(self, images: Tensor) -> MultiCropViews:
        return self.views


def without_stochastic_depth(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, StochasticDepth):
            module.p = 0.0


# ---------------------------------------------------------------- the authors' step, replicated
def head(module: nn.Module, x: Tensor) -> Tensor:
    """DINOHead without prototypes: 3-layer MLP, L2-normalised output (PAPER.md §2.5)."""
    return mlp_head(module.mlp, x)


def pooled(model: DEOReference, x: Tensor, stem: str) -> Tensor:
    """Swin output, final LayerNorm, global average pool (PAPER.md §2.3)."""
    last = model.stage_features(x, stem)[-1].permute(0, 2, 3, 1)
    return model.backbone.norm(last).mean(dim=(1, 2))


def authors_step(
    student: DEOReference, frozen: FrozenTeacher, views: list[Tensor]
) -> dict[str, Tensor]:
    """The loss terms of PAPER.md §8, steps 9–14, for views ``[g0, g1, l0, l1]``."""
    ema = copy.deepcopy(student)  # the MS teacher equals the student at the first step
    ms = torch.stack([head(student.head_ms, pooled(student, v, 'ms')) for v in views])
    with torch.no_grad():
        teacher = torch.stack([head(ema.head_ms, pooled(ema, g, 'ms')) for g in views[:2]])
    p, m = ms.shape[-1], ms.shape[1]
    compression = cross_view(teacher, ms)
    rates = [coding_rate((ms[u] + teacher[u]) / 2, EPS) for u in range(2)]
    expansion = (p + m) / (p * m) * 0.5 * (rates[0] + rates[1])
    rgb = [v[:, :3] for v in views]  # R, G, B are the first three DEO channels
    with torch.no_grad():
        tokens = frozen.model.forward_intermediates(
            torch.cat(rgb[:2]),
            indices=list(TEACHER_BLOCKS),
            return_prefix_tokens=True,
            norm=True,
            output_fmt='NCHW',
            intermediates_only=True,
        )
    teacher_cls = tokens[-1][1][:, 0].unflatten(0, (2, -1))
    student_cls = torch.stack([head(student.cls_head, pooled(student, v, 'rgb')) for v in rgb])
    cls_cos = cross_view(teacher_cls, student_cls)
    maps = student.stage_features(torch.cat(rgb[:2]), 'rgb')
    patch = {}
    for name, stage, module, (target, _) in (
        ('mid', 2, student.patch_head_mid, tokens[0]),
        ('late', 3, student.patch_head_late, tokens[1]),
    ):
        mapped = head(module, maps[stage].permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        mapped = F.interpolate(mapped, size=(14, 14), mode='bilinear')  # the authors' 14 x 14
        patch[name] = F.cosine_similarity(mapped, target, dim=1).mean()
    patch_cos = (patch['late'] + patch['mid']) / 2
    mcr = -compression - expansion
    return {
        'ms/compression': compression,
        'ms/expansion': expansion,
        'optical/cls_cosine': cls_cos,
        'optical/patch_cosine_stage3_block2': patch['mid'],
        'optical/patch_cosine_stage4_block3': patch['late'],
        'loss': mcr - (cls_cos + patch_cos) / 2,
    }


#: The authors' parameter names → dtcd's (the key mapping ``load_deo_weights`` applies).
def dtcd_name(name: str) -> str:
    for deo, ours in (
        ('backbone.conv_ms.0.', 'student.stems.ms.proj.'),
        ('backbone.conv_ms.2.', 'student.stems.ms.norm.'),
        ('backbone.conv_rgb.0.', 'student.stems.rgb.proj.'),
        ('backbone.conv_rgb.2.', 'student.stems.rgb.norm.'),
        ('backbone.', 'student.'),
        ('head_ms.', 'teachers.0.head.'),
        ('cls_head.', 'teachers.1.cls_head.'),
        ('patch_head_mid.', 'teachers.1.patch_heads.0.'),
        ('patch_head_late.', 'teachers.1.patch_heads.1.'),
    ):
        if name.startswith(deo):
            return ours + name.removeprefix(deo)
    raise KeyError(name)


@pytest.mark.slow
@pytest.mark.parametrize('teacher_mode', ['eval', 'train'])
def test_one_step_matches_the_authors_losses_and_gradients(
    tmp_path: Path, teacher_mode: str
) -> None:
    torch.manual_seed(0)
    reference = DEOReference('swin_t', 7, head_hidden=32, distill_dim=48)
    without_stochastic_depth(reference)
    reference.train()
    student, heads = load_deo_weights(reference.save(tmp_path / 'deo.pth'), 'swin_t', None, True)
    without_stochastic_depth(student)
    frozen = FrozenTeacher(
        'vit_small_patch16_dinov3', None, TEACHER_BLOCKS, None, model_kwargs=TEACHER_KWARGS
    )
    views = [torch.randn(BATCH, 10, 224, 224) for _ in range(2)]
    views += [torch.randn(BATCH, 10, 96, 96) for _ in range(LOCAL)]
    crops = MultiCropViews(torch.stack(views[:2]), torch.stack(views[2:]))
    ms = SelfDistillation(
        MCRObjective(out_dim=16, hidden_dim=32, eps=EPS), teacher_mode=teacher_mode
    )
    optical = OpticalDistillation(frozen, stages=(2, 3), hidden_dim=32)
    module = DistillationModule(student, [ms, optical], FixedCrops(crops))
    with torch.no_grad():  # the authors' heads, in the student and in the EMA copy
        ms.head.load_state_dict(heads['head_ms'].state_dict())
        ms.teacher.head.load_state_dict(heads['head_ms'].state_dict())
        optical.cls_head.load_state_dict(heads['cls_head'].state_dict())
        optical.patch_heads[0].load_state_dict(heads['patch_head_mid'].state_dict())
        optical.patch_heads[1].load_state_dict(heads['patch_head_late'].state_dict())
    module.train()
    assert ms.teacher.training == (teacher_mode == 'train')

    total, ours, _ = module.compute_losses(torch.zeros(1), progress=0.0, check_input=False)
    theirs = authors_step(reference, frozen, views)
    for name, value in theirs.items():
        assert ours[name].item() == pytest.approx(value.item(), rel=1e-6, abs=1e-7), name

    total.backward()
    theirs['loss'].backward()
    parameters = dict(module.named_parameters())
    compared = 0
    for name, param in reference.named_parameters():
        if param.grad is None:
            continue
        ours_grad = parameters[dtcd_name(name)].grad
        scale = param.grad.abs().max().clamp_min(1e-12)
        assert (ours_grad - param.grad).abs().max() / scale <= 1e-3, name
        compared += 1
    assert compared > 100  # body, both stems and all four heads
