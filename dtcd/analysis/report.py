"""Sweep results as a CSV table and as Markdown tables laid out like the paper's Tables 1–4.

One row per (backbone, dataset, seed) cell. Scores are shown ×100 as in the paper; with several
seeds a cell reads ``mean ± std`` (sample std). Averages are taken per seed over a complete row of
datasets, then summarised over seeds, so a missing cell never silently shifts an average; such
averages read ``–``. Ranks (Table 4) are computed per dataset on the seed means (1 = best, ties
share their mean rank) and averaged over the datasets a backbone has.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from dtcd.analysis.statistics import mean_and_std

__all__ = [
    'TASK_TITLES',
    'Result',
    'average_ranks',
    'datasets_by_group',
    'format_difference',
    'group_average',
    'group_columns',
    'markdown',
    'paired_difference',
    'read_csv',
    'seed_averages',
    'seed_mean',
    'total_average',
    'write_csv',
]

#: Section titles, in the paper's table order.
TASK_TITLES = {
    'segmentation': 'Semantic segmentation',
    'change': 'Change detection',
    'classification': 'Classification',
}
GROUPS = {'optical': 'Optical', 'ms': 'MS'}


@dataclass(frozen=True)
class Result:
    """One finished sweep cell.

    Attributes:
        backbone: Backbone name from the sweep file.
        dataset: Dataset name from the sweep file.
        task: ``segmentation``, ``change`` or ``classification``.
        task_group: ``optical`` or ``ms`` (PAPER.md §3.1).
        metric: The test metric reported, e.g. ``test/miou``.
        value: Its value, in [0, 1].
        seed: The run's seed.
        time_s: Wall time of the run.
    """

    backbone: str
    dataset: str
    task: str
    task_group: str
    metric: str
    value: float
    seed: int
    time_s: float


def write_csv(results: Iterable[Result], path: Path) -> None:
    """Write ``results`` with a header row."""
    with path.open('w', newline='') as file:
        writer = csv.writer(file)
        writer.writerow(f.name for f in fields(Result))
        writer.writerows(astuple(r) for r in results)


def read_csv(path: Path) -> list[Result]:
    """Read a results CSV written by :func:`write_csv` (or by hand, same columns)."""
    with path.open(newline='') as file:
        return [
            Result(
                backbone=row['backbone'],
                dataset=row['dataset'],
                task=row['task'],
                task_group=row['task_group'],
                metric=row['metric'],
                value=float(row['value']),
                seed=int(row['seed']),
                time_s=float(row['time_s']),
            )
            for row in csv.DictReader(file)
        ]


def _ordered(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _values(results: Sequence[Result]) -> dict[tuple[str, str], dict[int, float]]:
    table: dict[tuple[str, str], dict[int, float]] = {}
    for r in results:
        table.setdefault((r.backbone, r.dataset), {})[r.seed] = r.value
    return table


def _stat(values: Sequence[float]) -> tuple[float, float] | None:
    """Mean and sample std (0 for one value) of ``values``; ``None`` when empty."""
    return mean_and_std(values) if values else None


def seed_mean(results: Sequence[Result], backbone: str, dataset: str) -> float | None:
    """Mean over seeds of one (backbone, dataset) score, ``None`` if it has no result."""
    stat = _stat(list(_values(results).get((backbone, dataset), {}).values()))
    return stat[0] if stat else None


def group_average(
    results: Sequence[Result], backbone: str, datasets: Sequence[str]
) -> tuple[float, float] | None:
    """Mean ± std over seeds of the per-seed average over ``datasets``.

    Only seeds with a score on every dataset count; ``None`` when there is no such seed.
    """
    return total_average(results, backbone, [datasets])


def _ranks(scores: dict[str, float]) -> dict[str, float]:
    """Rank of each key, 1 = highest score; ties share the mean of their ranks."""
    ordered = sorted(scores.values(), reverse=True)
    return {
        key: statistics.fmean(i + 1 for i, v in enumerate(ordered) if v == value)
        for key, value in scores.items()
    }


def average_ranks(results: Sequence[Result]) -> dict[str, dict[str, float]]:
    """Per backbone: its average rank over the optical datasets, the MS ones and all of them.

    Keys of the inner dicts are ``optical``, ``ms`` and ``overall``; a group without any
    dataset score for the backbone is left out.
    """
    backbones = _ordered(r.backbone for r in results)
    ranks: dict[str, dict[str, list[float]]] = {b: {} for b in backbones}
    for dataset in _ordered(r.dataset for r in results):
        group = next(r.task_group for r in results if r.dataset == dataset)
        means = {b: seed_mean(results, b, dataset) for b in backbones}
        for backbone, rank in _ranks({b: m for b, m in means.items() if m is not None}).items():
            ranks[backbone].setdefault(group, []).append(rank)
            ranks[backbone].setdefault('overall', []).append(rank)
    return {
        b: {g: statistics.fmean(v) for g, v in by_group.items()} for b, by_group in ranks.items()
    }


def _format(stat: tuple[float, float] | None, seeds: int, scale: float = 100.0) -> str:
    if stat is None:
        return '–'
    mean, std = stat
    return f'{scale * mean:.2f} ± {scale * std:.2f}' if seeds > 1 else f'{scale * mean:.2f}'


def _bold_best(rows: list[list[str]], means: list[list[float | None]]) -> None:
    """Bold the highest mean of each column (``rows[i][j + 1]`` shows ``means[i][j]``)."""
    best = [
        max((m for m in col if m is not None), default=None) for col in zip(*means, strict=True)
    ]
    for row, row_means in zip(rows, means, strict=True):
        for j, (mean, target) in enumerate(zip(row_means, best, strict=True)):
            if mean is not None and target is not None and mean == target:
                row[j + 1] = f'**{row[j + 1]}**'


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    return lines + ['| ' + ' | '.join(row) + ' |' for row in rows]


def datasets_by_group(results: Sequence[Result]) -> dict[str, list[str]]:
    """The datasets of each task group (``optical``, ``ms``), in order of first appearance."""
    datasets = _ordered(r.dataset for r in results)
    group_of = {r.dataset: r.task_group for r in results}
    return {g: [d for d in datasets if group_of[d] == g] for g in GROUPS}


def _task_columns(results: Sequence[Result]) -> list[tuple[str, list[str]]]:
    """Columns of one task's table: each column's label and the datasets it averages.

    Optical datasets, then their average, then MS datasets and theirs, then the overall average.
    A group average appears only when both groups are present and the group has several
    datasets (Table 2 has one of each and just an overall average).
    """
    datasets = _ordered(r.dataset for r in results)
    by_group = datasets_by_group(results)
    both = all(by_group.values())
    columns: list[tuple[str, list[str]]] = []
    for group, label in GROUPS.items():
        columns += [(d, [d]) for d in by_group[group]]
        if both and len(by_group[group]) > 1:
            columns.append((f'{label} Avg', by_group[group]))
    if len(datasets) > 1:
        columns.append(('Avg', datasets))
    return columns


def _score_table(results: Sequence[Result], columns: list[tuple[str, list[str]]]) -> list[str]:
    """A backbone × column table of scores, best of each column in bold."""
    seeds = len({r.seed for r in results})
    backbones = _ordered(r.backbone for r in results)
    stats = [[group_average(results, b, ds) for _, ds in columns] for b in backbones]
    means = [[s[0] if s else None for s in row] for row in stats]
    rows = [[b] + [_format(s, seeds) for s in row] for b, row in zip(backbones, stats, strict=True)]
    _bold_best(rows, means)
    return _table(['Backbone'] + [label for label, _ in columns], rows)


def _rank_table(results: Sequence[Result]) -> list[str]:
    """Table 4: group averages over all tasks and average ranks, best overall rank first."""
    by_group = datasets_by_group(results)
    ranks = average_ranks(results)
    backbones = sorted(ranks, key=lambda b: ranks[b].get('overall', float('inf')))
    seeds = len({r.seed for r in results})
    header = ['Backbone']
    rows: list[list[str]] = [[b] for b in backbones]
    means: list[list[float | None]] = [[] for _ in backbones]
    for group, label in GROUPS.items():
        if not by_group[group]:
            continue
        header.append(f'{label} Avg')
        for row, row_means, b in zip(rows, means, backbones, strict=True):
            stat = group_average(results, b, by_group[group])
            row.append(_format(stat, seeds))
            row_means.append(stat[0] if stat else None)
    _bold_best(rows, means)
    for key, label in [*GROUPS.items(), ('overall', 'Overall')]:
        if key != 'overall' and not by_group[key]:
            continue
        header.append(f'Rank {label}')
        values = [ranks[b].get(key) for b in backbones]
        top = min((v for v in values if v is not None), default=None)
        for row, value in zip(rows, values, strict=True):
            text = '–' if value is None else f'{value:.1f}'
            row.append(f'**{text}**' if value is not None and value == top else text)
    return _table(header, rows)


def total_average(
    results: Sequence[Result], backbone: str, groups: Sequence[Sequence[str]]
) -> tuple[float, float] | None:
    """Mean ± std over seeds of the per-seed mean of the group averages (the paper's Total Avg).

    Only seeds with a score on every dataset count; ``None`` when there is no such seed.
    """
    return _stat(list(seed_averages(results, backbone, groups).values()))


def seed_averages(
    results: Sequence[Result], backbone: str, groups: Sequence[Sequence[str]]
) -> dict[int, float]:
    """Per seed, the mean of the group averages; only seeds with a score on every dataset."""
    table = _values(results)
    scores = [[table.get((backbone, d), {}) for d in datasets] for datasets in groups if datasets]
    if not scores:
        return {}
    seeds = set.intersection(*(set(v) for group in scores for v in group))
    return {
        s: statistics.fmean(statistics.fmean(v[s] for v in g) for g in scores)
        for s in sorted(seeds)
    }


def paired_difference(
    results: Sequence[Result], backbone: str, other: str, groups: Sequence[Sequence[str]]
) -> tuple[float, float | None, int] | None:
    """``backbone − other`` on the averages over ``groups``, paired by seed.

    Returns the mean difference, its standard error (std of the per-seed differences / √n;
    ``None`` with one seed) and the number of seeds both have; ``None`` when they share none.
    """
    mine, theirs = (seed_averages(results, b, groups) for b in (backbone, other))
    differences = [mine[s] - theirs[s] for s in mine if s in theirs]
    if not differences:
        return None
    mean, std = mean_and_std(differences)
    n = len(differences)
    return mean, (std / n**0.5 if n > 1 else None), n


def format_difference(difference: tuple[float, float | None, int], scale: float = 100.0) -> str:
    """``+1.23 ± 0.45`` (± one standard error), or just ``+1.23`` with one seed."""
    mean, se, _ = difference
    return f'{scale * mean:+.2f}' + ('' if se is None else f' ± {scale * se:.2f}')


def group_columns(results: Sequence[Result]) -> dict[str, list[list[str]]]:
    """Each present task group (``optical``, ``ms``) and ``total``, as the lists of dataset
    groups their averages are taken over (the ablation's columns, a claim's ``group``)."""
    groups = datasets_by_group(results)
    columns = {g: [groups[g]] for g in GROUPS if groups[g]}
    columns['total'] = [ds for ds in groups.values() if ds]
    return columns


def _ablation_table(results: Sequence[Result]) -> list[str]:
    """PAPER.md §4.6's layout: optical, MS and total averages in backbone order (an incremental
    build-up), each with its change from the row above ± its standard error, paired by seed."""
    columns = group_columns(results)
    seeds = len({r.seed for r in results})
    rows, previous = [], None
    for backbone in _ordered(r.backbone for r in results):
        cells = []
        for column in columns.values():
            cell = _format(total_average(results, backbone, column), seeds)
            change = previous and paired_difference(results, backbone, previous, column)
            cells.append(f'{cell} ({format_difference(change)})' if change else cell)
        rows.append([backbone, *cells])
        previous = backbone
    labels = [f'{GROUPS.get(column, column.title())} Avg' for column in columns]
    return _table(['Backbone', *labels], rows)


def markdown(
    results: Sequence[Result],
    title: str = 'Sweep results',
    ablation: bool = False,
    command: str | None = None,
) -> str:
    """The paper-style report: one score table per task, then averages and average ranks.

    With ``ablation``, a last table lays the averages out like the paper's ablation (§4.6);
    ``command``, the command line that made the results, is quoted under the title.
    """
    seeds = sorted({r.seed for r in results})
    spread = f'mean ± std over {len(seeds)} seeds' if len(seeds) > 1 else f'seed {seeds[0]}'
    lines = [
        f'# {title}',
        '',
        f'Test scores ×100 ({spread}); best of each column in **bold**. Group averages are over '
        'the optical and the multispectral (MS) datasets (PAPER.md §3.1).',
    ]
    if command:
        lines += ['', f'Made by `{command}` (re-running it skips finished cells).']
    for task, task_title in TASK_TITLES.items():
        subset = [r for r in results if r.task == task]
        if not subset:
            continue
        metrics = {r.dataset: r.metric for r in subset}
        shown = sorted(set(metrics.values()))
        if len(shown) > 1:
            shown = [f'{d}: {m}' for d, m in metrics.items()]
        lines += ['', f'## {task_title} ({", ".join(shown)})', '']
        lines += _score_table(subset, _task_columns(subset))
    lines += ['', '## Averages over all tasks and average rank', '', *_rank_table(results), '']
    if ablation:
        lines += [
            '## Ablation: averages in sweep order, change from the row above',
            '',
            *_ablation_table(results),
            '',
        ]
    return '\n'.join(lines)
