"""Linear CKA against a loop implementation of the HSIC formula (Kornblith et al.), properties."""

import pytest
import torch

from dtcd.analysis import linear_cka


def hsic(k: list[list[float]], m: list[list[float]]) -> float:
    """Biased HSIC, ``trace(K H L H) / (n - 1)²``, with ``H = I - 1/n``, element by element."""
    n = len(k)
    h = [[(i == j) - 1 / n for j in range(n)] for i in range(n)]

    def matmul(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
        return [[sum(a[i][m] * b[m][j] for m in range(n)) for j in range(n)] for i in range(n)]

    khmh = matmul(matmul(matmul(k, h), m), h)
    return sum(khmh[i][i] for i in range(n)) / (n - 1) ** 2


def gram(rows: list[list[float]]) -> list[list[float]]:
    """Linear kernel ``K[i][j] = <x_i, x_j>``."""
    return [[sum(a * b for a, b in zip(u, v, strict=True)) for v in rows] for u in rows]


def reference_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """CKA from linear-kernel Gram matrices, ``HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))``."""
    k, m = gram(x.double().tolist()), gram(y.double().tolist())
    return hsic(k, m) / (hsic(k, k) * hsic(m, m)) ** 0.5


@pytest.fixture
def xy() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 5, generator=g)
    y = x @ torch.randn(5, 7, generator=g) + 0.5 * torch.randn(12, 7, generator=g) + 3.0
    return x, y


def test_matches_the_hsic_formula(xy: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = xy
    assert linear_cka(x, y).item() == pytest.approx(reference_cka(x, y), rel=1e-10)
    noise = torch.randn(12, 3, generator=torch.Generator().manual_seed(1))
    assert linear_cka(x, noise).item() == pytest.approx(reference_cka(x, noise), rel=1e-10)


def test_identity_symmetry_and_range(xy: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = xy
    assert linear_cka(x, x).item() == pytest.approx(1.0)
    assert linear_cka(x, y).item() == pytest.approx(linear_cka(y, x).item())
    assert 0.0 < linear_cka(x, y).item() < 1.0


def test_invariant_to_orthogonal_transforms_isotropic_scaling_and_shifts(
    xy: tuple[torch.Tensor, torch.Tensor],
) -> None:
    x, y = xy
    q, _ = torch.linalg.qr(torch.randn(7, 7, generator=torch.Generator().manual_seed(2)))
    expected = linear_cka(x, y).item()
    assert linear_cka(x, y @ q).item() == pytest.approx(expected)
    assert linear_cka(42.0 * x, 0.01 * y).item() == pytest.approx(expected)
    assert linear_cka(x - 5.0, y).item() == pytest.approx(expected)
    # ...but not to anisotropic scaling of the features.
    scale = torch.tensor([10.0, 1.0, 1.0, 1.0, 0.1])
    assert linear_cka(x * scale, y).item() != pytest.approx(expected, abs=1e-3)


def test_rejects_mismatched_inputs() -> None:
    with pytest.raises(ValueError, match=r'\[n, p\]'):
        linear_cka(torch.zeros(4, 2), torch.zeros(5, 2))
