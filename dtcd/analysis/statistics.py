"""Uncertainty of probe scores: how large a difference the test split can show.

A 200-image test split moves a single accuracy by about ±3 points (issue 15), more than most
effects worth measuring on SynthEO; every comparison dtcd prints therefore carries its spread.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import torch
from torch import Tensor


def mean_and_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    values = list(values)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.fmean(values), spread


def paired_bootstrap(
    correct_a: Tensor, correct_b: Tensor, samples: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """Accuracy difference ``a − b`` on the same test items and its bootstrap interval.

    Test items are resampled with replacement (the same draw for both), so the interval reflects
    how much the difference depends on which items happened to be in the test split.

    Args:
        correct_a: ``[N]`` bool, whether model ``a`` got each test item right.
        correct_b: ``[N]`` bool, the same for model ``b``.
        samples: Bootstrap resamples.
        seed: Seed of the resampling.
        level: Coverage of the interval.

    Returns:
        The observed difference and the interval's lower and upper ends.
    """
    if correct_a.shape != correct_b.shape or correct_a.ndim != 1:
        raise ValueError(
            f'Give one flag per test item for both models, got shapes {tuple(correct_a.shape)} '
            f'and {tuple(correct_b.shape)}.'
        )
    gain = correct_a.float() - correct_b.float()
    generator = torch.Generator().manual_seed(seed)
    draws = torch.randint(len(gain), (samples, len(gain)), generator=generator)
    means = gain[draws].mean(dim=1)
    tail = (1 - level) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1 - tail])).tolist()
    return gain.mean().item(), low, high
