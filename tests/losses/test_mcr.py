"""MCR loss against a reference written loop by loop from PAPER.md §2.3."""

import math

import pytest
import torch
import torch.nn.functional as F

from dtcd.losses import MCRLoss, coding_rate


def reference_mcr(student: torch.Tensor, teacher: torch.Tensor, eps: float, coeff: float):
    num_views, batch, dim = student.shape
    total = 0.0
    for u in range(2):
        for v in range(num_views):
            if u == v:
                continue
            pair = [F.cosine_similarity(teacher[u, b], student[v, b], dim=0) for b in range(batch)]
            total = total + sum(pair) / batch
    compression = total / (2 * num_views - 2)
    rates = []
    for u in range(2):
        z = (student[u] + teacher[u]) / 2
        matrix = torch.eye(dim, dtype=z.dtype) + dim / (batch * eps) * z.T @ z
        rates.append(0.5 * torch.logdet(matrix))
    expansion = (dim + batch) / (dim * batch) * 0.5 * (rates[0] + rates[1])
    return -coeff * compression - expansion, compression, expansion


@pytest.mark.parametrize(('num_views', 'batch', 'dim'), [(12, 8, 16), (4, 3, 32), (2, 5, 8)])
def test_mcr_matches_reference(num_views: int, batch: int, dim: int) -> None:
    torch.manual_seed(num_views)
    student = F.normalize(torch.randn(num_views, batch, dim, dtype=torch.float64), dim=-1)
    teacher = F.normalize(torch.randn(2, batch, dim, dtype=torch.float64), dim=-1)
    out = MCRLoss(eps=0.05, coeff=1.3)(student, teacher)
    loss, compression, expansion = reference_mcr(student, teacher, 0.05, 1.3)
    torch.testing.assert_close(out['compression'].double(), compression, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out['expansion'].double(), expansion, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out['loss'].double(), loss, rtol=1e-5, atol=1e-6)


def test_coding_rate_is_half_logdet_and_grows_with_spread() -> None:
    torch.manual_seed(0)
    z = F.normalize(torch.randn(16, 8), dim=-1)
    expected = 0.5 * torch.logdet(torch.eye(8) + 8 / (16 * 0.5) * z.T @ z)
    torch.testing.assert_close(coding_rate(z, eps=0.5), expected)
    collapsed = z[:1].expand(16, 8)
    assert coding_rate(collapsed, eps=0.5) < coding_rate(z, eps=0.5)
    # The world size enters the scale p / (m·N·ε).
    assert math.isclose(
        coding_rate(z, eps=0.5, world=2).item(), coding_rate(z, eps=1.0).item(), rel_tol=1e-6
    )


def test_aligned_views_compress_better_than_random() -> None:
    torch.manual_seed(1)
    view = F.normalize(torch.randn(1, 8, 16), dim=-1)
    teacher = view.expand(2, 8, 16)  # both global views of an image embed alike
    aligned = view.expand(6, 8, 16)
    random = F.normalize(torch.randn(6, 8, 16), dim=-1)
    loss = MCRLoss()
    assert loss(aligned, teacher)['compression'] > 0.5 > loss(random, teacher)['compression']


def test_gradient_reaches_student_only_and_bf16_is_finite() -> None:
    student = F.normalize(torch.randn(6, 4, 32), dim=-1).requires_grad_()
    teacher = F.normalize(torch.randn(2, 4, 32), dim=-1)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = MCRLoss()(student.bfloat16(), teacher.bfloat16())
    assert out['loss'].dtype == torch.float32 and torch.isfinite(out['loss'])
    out['loss'].backward()
    assert student.grad is not None and torch.isfinite(student.grad).all()


def test_rejects_mismatched_views() -> None:
    with pytest.raises(ValueError, match='must start with the 2 teacher views'):
        MCRLoss()(torch.randn(1, 4, 8), torch.randn(2, 4, 8))
