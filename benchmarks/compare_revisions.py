"""Before / after: one pretraining step of two git revisions, timed in alternating processes.

Each revision is checked out into a temporary worktree; rounds alternate between them (A, B, A,
B, ...), each round one process of that revision's ``benchmarks.pretrain_step`` (fp32, its own
warm-up), so both see the same machine load. Prints the median step and network-pass seconds per
revision and their ratio.

Usage: ``python -m benchmarks.compare_revisions HEAD~1 HEAD --rounds 3 -- --preset cpu-small``
(arguments after ``--`` go to ``benchmarks.pretrain_step``).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

#: Rows of pretrain_step's phase table that are read back.
ROWS = ('total', 'backward')
TIMING = ['--precision', 'fp32', '--no-flops', '--steps', '1', '--warmup', '1']


def checkout(revision: str, into: Path) -> Path:
    """A detached worktree of ``revision`` under ``into``."""
    path = into / re.sub(r'[^A-Za-z0-9_.-]', '_', revision)
    subprocess.run(
        ['git', 'worktree', 'add', '--detach', '--force', str(path), revision],
        check=True,
        capture_output=True,
    )
    return path


def knows_flag(tree: Path, flag: str) -> bool:
    """Whether that revision's benchmark has ``flag`` (older ones have no plain baseline)."""
    return flag in (tree / 'benchmarks' / 'pretrain_step.py').read_text()


def one_run(tree: Path, args: Sequence[str]) -> dict[str, float]:
    """Seconds per row of one process's fp32 phase table."""
    command = [sys.executable, '-m', 'benchmarks.pretrain_step', *args, *TIMING]
    env = os.environ | {'PYTHONPATH': str(tree)}
    out = subprocess.run(
        command, cwd=tree, env=env, check=True, capture_output=True, text=True
    ).stdout
    found = {}
    for row in ROWS:
        match = re.search(rf'^\| {row} \| ([0-9.]+) \|', out, flags=re.MULTILINE)
        if match is None:
            raise RuntimeError(f'No "{row}" row in the output of {command}:\n{out}')
        found[row] = float(match.group(1)) / 1e3
    return found


def main(argv: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    """Alternate the two revisions, print the medians and the ratio."""
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough = argv[argv.index('--') + 1 :] if '--' in argv else []
    own = argv[: argv.index('--')] if '--' in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('before')
    parser.add_argument('after')
    parser.add_argument('--rounds', type=int, default=3)
    args = parser.parse_args(own)
    times: dict[str, dict[str, list[float]]] = {args.before: {}, args.after: {}}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {rev: checkout(rev, Path(tmp)) for rev in times}
        own_args = {  # skip the plain baseline where the revision has one: dtcd's rows only
            rev: [*passthrough, *(['--no-baseline'] if knows_flag(tree, '--no-baseline') else [])]
            for rev, tree in trees.items()
        }
        try:
            for round_ in range(args.rounds):
                for rev, tree in trees.items():
                    for row, seconds in one_run(tree, own_args[rev]).items():
                        times[rev].setdefault(row, []).append(seconds)
                print(f'round {round_ + 1} of {args.rounds} done', flush=True)
        finally:
            for tree in trees.values():
                subprocess.run(['git', 'worktree', 'remove', '--force', str(tree)], check=False)
    medians = {
        rev: {k: statistics.median(v) for k, v in rows.items()} for rev, rows in times.items()
    }
    command = ' '.join(passthrough)
    print(f'\nfp32 medians over {args.rounds} alternating rounds, pretrain_step {command}')
    print(f'| row | {args.before} s | {args.after} s | after / before |\n|---|---:|---:|---:|')
    for row in ROWS:
        before, after = medians[args.before][row], medians[args.after][row]
        print(f'| step {row} | {before:.3f} | {after:.3f} | {after / before:.3f} |')
    return medians


if __name__ == '__main__':
    main()
