"""What an ablation is meant to show, checked against its seeds.

A claim says that one backbone beats another on a task-group average (optical, MS or the total).
It holds when the mean difference over seeds (paired by seed: the same probe seed, and the same
pretraining seed where the sweep pretrains per seed) is at least ``min_gain`` and more than twice
its standard error — the bar issue 15 sets for the SynthEO ablation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dtcd.analysis.report import Result, format_difference, group_columns, paired_difference

__all__ = ['Claim', 'claims_markdown']

GROUP_COLUMNS = ('optical', 'ms', 'total')
#: Mean difference, its standard error (``None`` with one seed), seeds.
Difference = tuple[float, float | None, int]


@dataclass(frozen=True)
class Claim:
    """``backbone`` beats ``over`` on the ``group`` average by ``min_gain`` and by > 2 SE."""

    backbone: str
    over: str
    group: str
    min_gain: float = 0.02

    def __post_init__(self) -> None:
        if self.group not in GROUP_COLUMNS:
            raise ValueError(f'claim {self}: group must be one of {GROUP_COLUMNS}')

    def difference(self, results: Sequence[Result]) -> Difference | None:
        """Mean difference, its standard error and the seeds it rests on (see the module)."""
        datasets = group_columns(results).get(self.group)
        return paired_difference(results, self.backbone, self.over, datasets) if datasets else None

    def verdict(self, results: Sequence[Result]) -> str:
        """``holds``, ``fails`` (and why) or ``no result``."""
        return self.judge(self.difference(results))

    def judge(self, difference: Difference | None) -> str:
        """The verdict on an already computed :meth:`difference`."""
        if difference is None:
            return 'no result'
        mean, se, n = difference
        if se is None:
            return f'untested ({n} seed)'
        problems = []
        if mean < self.min_gain:
            problems.append(f'< {100 * self.min_gain:g} pts')
        if mean <= 2 * se:
            problems.append('≤ 2 SE')
        return 'holds' if not problems else 'fails: ' + ', '.join(problems)


def claims_markdown(results: Sequence[Result], claims: Sequence[Claim]) -> str:
    """A section listing each claim with its difference ± SE (points ×100) and its verdict."""
    lines = [
        '## Claims',
        '',
        'Difference of the group averages ×100, paired by seed, ± one standard error.',
        '',
        '| Claim | Difference | Seeds | Verdict |',
        '| --- | --- | --- | --- |',
    ]
    for claim in claims:
        difference = claim.difference(results)  # once per claim: shown and judged
        shown = '–' if difference is None else format_difference(difference)
        seeds = '0' if difference is None else str(difference[2])
        lines.append(
            f'| {claim.backbone} > {claim.over} on {claim.group} | {shown} | {seeds} | '
            f'{claim.judge(difference)} |'
        )
    return '\n'.join(lines) + '\n'
