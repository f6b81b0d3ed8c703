"""DINO objective: equivalence with lightly, Sinkhorn-Knopp marginals, iBOT, KoLeo."""

import math

import pytest
import torch
import torch.nn.functional as F
from lightly.loss import DINOLoss as LightlyDINOLoss

from dtcd.distill.objectives import target_spread
from dtcd.losses.dino import DINOLoss, IBOTPatchLoss, KoLeoLoss, sinkhorn_knopp


def test_centered_dino_matches_lightly_including_center_update() -> None:
    torch.manual_seed(0)
    teacher, student = torch.randn(2, 8, 64), torch.randn(6, 8, 64)
    reference = LightlyDINOLoss(output_dim=64, warmup_teacher_temp=0.04, teacher_temp=0.04)
    ours = DINOLoss(64, teacher_temp=0.04, warmup_teacher_temp=0.04)
    for step in range(3):  # the center moves after each step
        expected = reference(list(teacher + step), list(student), teacher_temp=0.04)
        got = ours(student, ours.teacher_probs(teacher + step, progress=0.5))
        torch.testing.assert_close(got, expected)
        ours.update()
        torch.testing.assert_close(ours.center.flatten(), reference.center.flatten())


def test_center_moves_once_per_update_not_per_forward() -> None:
    loss = DINOLoss(16)
    teacher = torch.randn(2, 4, 16)
    loss.teacher_probs(teacher, 0.0)
    loss.teacher_probs(teacher, 0.0)  # two micro-batches, one optimizer step
    assert torch.equal(loss.center, torch.zeros(1, 16))
    loss.update()
    torch.testing.assert_close(loss.center, 0.1 * teacher.reshape(-1, 16).mean(0, keepdim=True))
    before = loss.center.clone()
    loss.update()  # nothing new seen: no move
    assert torch.equal(loss.center, before)


def test_teacher_temperature_warms_up_linearly() -> None:
    loss = DINOLoss(8, teacher_temp=0.07, warmup_teacher_temp=0.04, warmup_fraction=0.3)
    assert loss.temperature(0.0) == pytest.approx(0.04)
    assert loss.temperature(0.15) == pytest.approx(0.055)
    assert loss.temperature(0.9) == pytest.approx(0.07)


def test_sinkhorn_rows_and_columns_are_normalised() -> None:
    torch.manual_seed(0)
    logits = torch.randn(32, 8)
    q = sinkhorn_knopp(logits, iterations=3)
    torch.testing.assert_close(q.sum(dim=1), torch.ones(32))
    # Three iterations nearly balance the prototypes; many balance them exactly.
    torch.testing.assert_close(q.sum(dim=0), torch.full((8,), 4.0), rtol=0.05, atol=0.05)
    balanced = sinkhorn_knopp(logits, iterations=200)
    torch.testing.assert_close(balanced.sum(dim=0), torch.full((8,), 4.0), rtol=1e-3, atol=1e-3)


def test_sinkhorn_survives_logits_that_overflow_exp() -> None:
    # DINO logits near 3.5 at teacher temperature 0.04: exp(87.5) ~ 1e38, sums overflow fp32.
    torch.manual_seed(0)
    logits = (3.5 + 0.3 * torch.randn(64, 16)) / 0.04
    assert not torch.isfinite(torch.exp(logits).sum())
    q = sinkhorn_knopp(logits)
    assert torch.isfinite(q).all()
    torch.testing.assert_close(q.sum(dim=1), torch.ones(64))


def test_sinkhorn_dino_is_finite_in_bf16() -> None:
    loss = DINOLoss(32, centering='sinkhorn')
    with torch.autocast('cpu', dtype=torch.bfloat16):
        probs = loss.teacher_probs(3.5 + torch.randn(2, 4, 32).bfloat16() * 0.3, 0.0)
        value = loss(torch.randn(4, 4, 32).bfloat16(), probs)
    assert value.dtype == torch.float32 and torch.isfinite(value)


def test_ibot_weights_each_image_by_its_masked_tokens() -> None:
    torch.manual_seed(0)
    student, teacher = torch.randn(2, 5, 7), F.softmax(torch.randn(2, 5, 7), dim=-1)
    mask = torch.tensor([[1, 0, 0, 0, 0], [1, 1, 1, 0, 0]], dtype=torch.bool)
    log_p = F.log_softmax(student / 0.1, dim=-1)
    ce = -(teacher * log_p).sum(-1)
    expected = (ce[0, 0] + ce[1, :3].mean()) / 2
    torch.testing.assert_close(IBOTPatchLoss()(student, teacher, mask), expected)


def test_koleo_prefers_spread_points_and_runs_in_fp32() -> None:
    spread = torch.eye(8)
    clumped = torch.eye(8) * 0.1 + 1.0
    koleo = KoLeoLoss()
    assert koleo(spread) < koleo(clumped)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert koleo(torch.randn(16, 8).bfloat16()).dtype == torch.float32


def test_target_spread_tells_the_uniform_from_the_one_prototype_collapse() -> None:
    k = 64
    uniform = torch.full((2, 8, k), 1 / k)
    one_prototype = torch.zeros(2, 8, k).index_fill_(-1, torch.tensor([3]), 1.0)
    sharp_and_spread = torch.eye(k)[torch.arange(16) % k].view(2, 8, k)  # 16 distinct one-hots
    cases = [('uniform', uniform), ('one', one_prototype), ('healthy', sharp_and_spread)]
    spread = {name: target_spread(p) for name, p in cases}
    assert spread['uniform']['target_entropy'] == pytest.approx(1.0)
    assert spread['uniform']['target_usage'] == pytest.approx(1.0)
    assert spread['one']['target_entropy'] == pytest.approx(0.0, abs=1e-6)
    assert spread['one']['target_usage'] == pytest.approx(0.0, abs=1e-6)
    assert spread['healthy']['target_entropy'] == pytest.approx(0.0, abs=1e-6)
    assert spread['healthy']['target_usage'] == pytest.approx(math.log(16) / math.log(k))
