"""Scalars of TensorBoard runs: read them, and print how chosen tags start and end.

``python -m dtcd.analysis.scalars runs/dino_small/* --tags train/ms/dino train/ms/target_entropy``
prints, per run and tag, the first, smallest and last logged value: the trajectory of a
pretraining run (did the loss leave ln K, did the targets stay uniform) without opening
TensorBoard.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

__all__ = ['read_scalars', 'summary_table']

Series = list[tuple[int, float]]


def read_scalars(run_dir: Path) -> dict[str, Series]:
    """Every scalar tag of the event files in ``run_dir``: ``(step, value)`` in logged order."""
    if not any(run_dir.glob('events.out.tfevents.*')):
        raise FileNotFoundError(f'No TensorBoard event file in {run_dir}: give a run directory.')
    events = EventAccumulator(str(run_dir), size_guidance={'scalars': 0})
    events.Reload()
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()['scalars']
    }


def summary_table(runs: Sequence[Path], tags: Sequence[str]) -> str:
    """A Markdown table: per run and tag, the first, smallest and last value (with steps)."""
    lines = ['| Run | Tag | First | Min | Last |', '| --- | --- | --- | --- | --- |']
    for run in runs:
        scalars = read_scalars(run)
        for tag in tags:
            series = scalars.get(tag)
            if not series:
                lines.append(f'| {run} | {tag} | – | – | – |')
                continue
            low = min(series, key=lambda point: point[1])
            cells = [f'{v:.4g} @ {s}' for s, v in (series[0], low, series[-1])]
            lines.append(f'| {run} | {tag} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Print :func:`summary_table` for the run directories and tags given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('runs', nargs='+', type=Path, help='TensorBoard run directories')
    parser.add_argument('--tags', nargs='+', required=True, help='scalar tags to summarise')
    args = parser.parse_args(argv)
    print(summary_table(args.runs, args.tags))


if __name__ == '__main__':
    main()
