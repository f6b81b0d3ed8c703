"""Optical distillation losses against references written from PAPER.md §2.4."""

import torch
import torch.nn.functional as F

from dtcd.losses import CLSDistillLoss, PatchDistillLoss, cross_view_cosine, patch_cosine


def test_cls_distillation_matches_reference() -> None:
    torch.manual_seed(0)
    student, teacher = torch.randn(10, 6, 24), torch.randn(2, 6, 24)
    expected = sum(
        F.cosine_similarity(teacher[u], student[v], dim=-1).mean()
        for u in range(2)
        for v in range(10)
        if u != v
    ) / (2 * 10 - 2)
    out = CLSDistillLoss()(student, teacher)
    torch.testing.assert_close(out['cosine'], expected)
    torch.testing.assert_close(out['loss'], -expected)


def test_cross_view_cosine_ignores_identical_views() -> None:
    teacher = F.normalize(torch.randn(2, 4, 8), dim=-1)
    student = torch.cat([teacher, -teacher])  # views 2 and 3 are the opposites of views 0 and 1
    # Pairs (0,1) and (1,0) add c = cos(view 0, view 1); (0,3) and (1,2) add -c; (0,2) and (1,3)
    # add -1. The identical pairs (0,0) and (1,1) must not count: 6 pairs, sum -2.
    torch.testing.assert_close(cross_view_cosine(teacher, student), torch.tensor(-2 / 6))


def test_patch_distillation_resizes_bilinearly_to_teacher_grid() -> None:
    torch.manual_seed(0)
    stage4, stage3 = torch.randn(3, 16, 7, 7), torch.randn(3, 16, 14, 14)
    block11, block8 = torch.randn(3, 16, 14, 14), torch.randn(3, 16, 14, 14)
    out = PatchDistillLoss()([stage3, stage4], [block8, block11], ['mid', 'late'])
    upsampled = F.interpolate(stage4, size=(14, 14), mode='bilinear', align_corners=False)
    late = torch.stack(
        [
            F.cosine_similarity(upsampled[b, :, i, j], block11[b, :, i, j], dim=0)
            for b in range(3)
            for i in range(14)
            for j in range(14)
        ]
    ).mean()
    mid = F.cosine_similarity(stage3, block8, dim=1).mean()
    torch.testing.assert_close(out['cosine_late'], late)
    torch.testing.assert_close(out['cosine_mid'], mid)
    torch.testing.assert_close(out['loss'], -(late + mid) / 2)


def test_patch_cosine_is_one_for_matching_maps_and_finite_in_bf16() -> None:
    x = torch.randn(2, 8, 14, 14)
    torch.testing.assert_close(patch_cosine(x, x), torch.tensor(1.0))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = PatchDistillLoss()([x.bfloat16()], [x.bfloat16()], ['late'])
        cls = CLSDistillLoss()(torch.randn(4, 2, 8).bfloat16(), torch.randn(2, 2, 8).bfloat16())
    assert torch.isfinite(out['loss']) and torch.isfinite(cls['loss'])
