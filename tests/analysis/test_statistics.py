"""The spread dtcd prints next to every comparison."""

import pytest
import torch

from dtcd.analysis.statistics import mean_and_std, paired_bootstrap


def test_mean_and_std() -> None:
    assert mean_and_std([0.5, 0.7, 0.9]) == pytest.approx((0.7, 0.2))
    assert mean_and_std([0.4]) == (0.4, 0.0)


def test_paired_bootstrap_interval_covers_the_difference_and_shrinks_with_items() -> None:
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(200, generator=generator) < 0.9
    b = torch.rand(200, generator=generator) < 0.8
    gain, low, high = paired_bootstrap(a, b)
    assert gain == pytest.approx(a.float().mean().item() - b.float().mean().item())
    assert low < gain < high
    assert 0.05 < high - low < 0.2  # about ±2 standard errors of a 200-item difference
    _, low_big, high_big = paired_bootstrap(a.repeat(16), b.repeat(16))
    assert (high_big - low_big) < (high - low) / 3


def test_paired_bootstrap_of_equal_answers_is_exactly_zero() -> None:
    flags = torch.tensor([True, False, True, True])
    assert paired_bootstrap(flags, flags) == (0.0, 0.0, 0.0)


def test_paired_bootstrap_refuses_unpaired_flags() -> None:
    with pytest.raises(ValueError, match='one flag per test item'):
        paired_bootstrap(torch.ones(3, dtype=torch.bool), torch.ones(4, dtype=torch.bool))
