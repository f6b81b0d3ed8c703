"""Sweep result figures: the paper's teaser scatter and per-dataset grouped bars (PNG).

Drawn with matplotlib's object API (``Figure`` renders through Agg), so no GUI backend or global
pyplot state is involved and plotting works headless in sweeps and tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from dtcd.analysis.report import Result, datasets_by_group, group_average

__all__ = ['plot_datasets', 'plot_teaser']


def _ordered(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


def plot_teaser(results: Sequence[Result], path: Path) -> Path:
    """Optical average (x) against MS average (y) per backbone, over all tasks (the teaser).

    Backbones missing a complete optical or MS row are left out (their average is undefined).
    """
    groups = datasets_by_group(results)
    fig = Figure(figsize=(6.5, 4), layout='constrained')
    ax = fig.add_subplot()
    markers = 'osD^vP*X'  # with the colour cycle, close points stay apart in the legend
    for i, backbone in enumerate(_ordered([r.backbone for r in results])):
        x = group_average(results, backbone, groups['optical'])  # None for an empty group
        y = group_average(results, backbone, groups['ms'])
        if x is None or y is None:
            continue
        ax.errorbar(
            100 * x[0], 100 * y[0], xerr=100 * x[1], yerr=100 * y[1],
            fmt=markers[i % len(markers)], capsize=3, label=backbone,
        )  # fmt: skip
    if ax.has_data():  # no backbone has both averages when the sweep lacks a group
        ax.legend(loc='center left', bbox_to_anchor=(1.02, 0.5), fontsize='small')
    ax.set_xlabel('Optical average (×100)')
    ax.set_ylabel('MS average (×100)')
    ax.set_title('Optical vs multispectral performance')
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=120)
    return path


def plot_datasets(results: Sequence[Result], path: Path) -> Path:
    """Grouped bars: one group per dataset, one bar per backbone (mean, std over seeds)."""
    datasets = _ordered([r.dataset for r in results])
    backbones = _ordered([r.backbone for r in results])
    width = 0.8 / len(backbones)
    fig = Figure(figsize=(max(5.0, 1.2 * len(datasets) + 2), 4), layout='constrained')
    ax = fig.add_subplot()
    x = np.arange(len(datasets))
    for i, backbone in enumerate(backbones):
        stats = [group_average(results, backbone, [d]) for d in datasets]
        means = [100 * s[0] if s else np.nan for s in stats]
        stds = [100 * s[1] if s else 0.0 for s in stats]
        ax.bar(x + (i - (len(backbones) - 1) / 2) * width, means, width, yerr=stds, label=backbone)
    ax.set_xticks(x, datasets, rotation=30, ha='right')
    ax.set_ylabel('Test score (×100)')
    ax.legend(fontsize='small')
    ax.grid(axis='y', alpha=0.3)
    fig.savefig(path, dpi=120)
    return path
