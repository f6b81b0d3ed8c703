"""``dtcd sweep``: evaluate a grid of backbones × probe configs × seeds, resumably.

Each cell is one ``dtcd fit`` of a probe config with the backbone and seed set on the command line,
run in its own subprocess so that a crash or a memory leak stays in that cell. The probe writes
its test metrics to ``test_metrics.json`` in its log directory (:meth:`BaseProbe.on_test_end`);
the sweep points that directory at ``OUT/runs/<cell>/`` and stores the cell's result atomically
as ``OUT/cells/<cell>.json``, with the :class:`~dtcd.fingerprint.Fingerprint` of what made it. A
cell whose stored result has the fingerprint it would have now is skipped, so an interrupted or
partly failed sweep is resumed by running the same command again; a cell whose command, config
files, backbone file, data-making steps or dtcd version changed is *stale*: it is named with what
changed and run again (``--keep-stale`` keeps it instead, still named). At the end the results of
the grid are written as ``results.csv``, ``results.md`` (paper-style tables) and PNG plots;
``--report-only`` writes them from the stored cells alone, running nothing (a fresh clone of
committed results, whose checkpoints are not committed).

Backbones that must first be made (synthetic data, pretraining, an export) come from ``prepare``
steps: ``dtcd`` commands run in order before the grid, each once. A step is finished when its
marker ``OUT/prepare/<name>.done`` holds its current arguments; an unfinished or changed step runs
again from the start, so one command reproduces a whole experiment and resumes it after a stop.

A sweep file (``experiments/sweeps/*.yaml``)::

    data_root: data/synth          # optional; joined with each dataset's ``root``
    prepare:                       # optional; dtcd arguments and the file each step writes
      - {name: data, run: [synth, --out, data/synth], creates: data/synth/eurosat}
      - {name: pretrain, per_seed: true, creates: ckpt/{seed}/last.ckpt,   # once per seed
         run: [fit, --config, pretrain.yaml, '--seed_everything={seed}', ...]}
    seeds: [0]
    overrides: [--trainer.max_epochs=2]   # CLI arguments added to every cell
    ablation: false                # true: backbones are a build-up; report each row's change
    claims:                        # optional; checked in results.md (dtcd.analysis.claims)
      - {backbone: pretrained, over: random, group: ms, min_gain: 0.02}
    backbones:
      - {name: random, spec: 'random:swin_t', kwargs: {embed_dim: 16}, weights: null}
      - {name: pretrained, spec: 'ckpt/{seed}/last.ckpt', task_groups: [ms]}
    datasets:
      - {name: eurosat, config: experiments/probes/synth_classification.yaml, root: eurosat,
         task_group: ms, metric: test/acc, overrides: []}

``metric`` defaults to the probe's selection metric on test (accuracy, mIoU, change F1): what its
class reports (:meth:`dtcd.probes.BaseProbe.reported_metric`).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml

from dtcd.analysis.claims import Claim, claims_markdown
from dtcd.analysis.report import Result, markdown, write_csv
from dtcd.fingerprint import Fingerprint
from dtcd.probes import BaseProbe

__all__ = ['Backbone', 'Cell', 'Dataset', 'Step', 'StepFailed', 'Sweep', 'main', 'run_sweep']

TASK_GROUPS = ('optical', 'ms')
#: How the sweep runs ``dtcd``: this Python, so cells and steps use the sweep's environment.
DTCD = (sys.executable, '-m', 'dtcd.main')


@dataclass(frozen=True)
class Backbone:
    """A backbone to evaluate: a probe backbone spec (``dtcd.probes.backbones.SPEC_FORMS``).

    ``{seed}`` in ``spec`` or ``weights`` is the cell's seed: each seed probes its own
    pretraining run (a ``per_seed`` prepare step). ``task_groups`` limits the datasets it is
    probed on (an RGB-only model gives the same scores on an MS dataset's RGB bands).
    """

    name: str
    spec: str
    kwargs: dict[str, Any] | None = None
    weights: str | None = None
    task_groups: tuple[str, ...] = TASK_GROUPS

    def __post_init__(self) -> None:
        unknown = set(self.task_groups) - set(TASK_GROUPS)
        if unknown:
            raise ValueError(f'{self.name}: task_groups must be among {TASK_GROUPS}')

    def for_seed(self, seed: int) -> Backbone:
        """This backbone with ``{seed}`` in its spec and weights replaced by ``seed``."""
        weights = None if self.weights is None else with_seed(self.weights, seed)
        return replace(self, spec=with_seed(self.spec, seed), weights=weights)


def with_seed(text: str, seed: int) -> str:
    """``text`` with ``{seed}`` replaced (not ``str.format``: arguments may hold JSON braces)."""
    return text.replace('{seed}', str(seed))


@dataclass(frozen=True)
class Dataset:
    """A probe config and how its score is reported."""

    name: str
    config: str
    task_group: str
    root: str | None = None
    metric: str | None = None
    overrides: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.task_group not in TASK_GROUPS:
            raise ValueError(f'{self.name}: task_group must be one of {TASK_GROUPS}')

    def task_and_metric(self) -> tuple[str, str]:
        """The task and the reported test metric, as the config's probe class declares them."""
        config = yaml.safe_load(Path(self.config).read_text())
        class_path = config['model']['class_path']
        probe = probe_class(class_path)
        if probe is None:
            raise ValueError(
                f'{self.config}: {class_path} is not a dtcd probe (a dtcd.probes.BaseProbe).'
            )
        return probe.report_task, self.metric or probe.reported_metric()


def probe_class(class_path: str) -> type[BaseProbe] | None:
    """The probe class a config names (a bare name is looked up in :mod:`dtcd.probes`)."""
    module, _, name = class_path.rpartition('.')
    try:
        found = getattr(importlib.import_module(module or 'dtcd.probes'), name)
    except (ImportError, AttributeError):
        return None
    return found if isinstance(found, type) and issubclass(found, BaseProbe) else None


@dataclass(frozen=True)
class Cell:
    """One run: a backbone on a dataset with a seed."""

    backbone: Backbone
    dataset: Dataset
    seed: int

    @property
    def name(self) -> str:
        """File-system name of the cell."""
        return f'{self.backbone.name}__{self.dataset.name}__seed{self.seed}'

    def result_path(self, out: Path) -> Path:
        """Where the cell's result is stored once it finished."""
        return out / 'cells' / f'{self.name}.json'

    def fingerprint(
        self, data_root: str | None, extra: Sequence[str], steps: dict[str, str]
    ) -> Fingerprint:
        """What the cell's result depends on now: its ``dtcd`` arguments (its own log folder
        written ``OUT/runs/<cell>``, so a moved sweep folder is not a change), the files they
        name and the data-making ``steps`` (``name -> arguments``)."""
        command = self.command(Path('OUT', 'runs', self.name), data_root, extra)
        return Fingerprint.of(command[len(DTCD) :], steps)

    def command(self, run_dir: Path, data_root: str | None, extra: Sequence[str]) -> list[str]:
        """The ``dtcd fit`` command line; later arguments override earlier ones."""
        b, d = self.backbone.for_seed(self.seed), self.dataset
        logger = {
            'class_path': 'lightning.pytorch.loggers.TensorBoardLogger',
            'init_args': {'save_dir': str(run_dir), 'name': '', 'version': ''},
        }
        cmd = [
            *DTCD, 'fit', '--config', d.config,
            f'--seed_everything={self.seed}',
            f'--trainer.default_root_dir={run_dir}',
            f'--trainer.logger={json.dumps(logger)}',
            '--trainer.enable_progress_bar=false',
            f'--model.init_args.backbone={b.spec}',
        ]  # fmt: skip
        if b.kwargs:
            cmd.append(f'--model.init_args.backbone_kwargs={json.dumps(b.kwargs)}')
        if b.weights:
            cmd.append(f'--model.init_args.backbone_weights={b.weights}')
        if d.root is not None:
            root = Path(data_root) / d.root if data_root else Path(d.root)
            cmd.append(f'--data.init_args.root={root}')
        return [*cmd, *d.overrides, *extra]


@dataclass(frozen=True)
class Step:
    """A ``dtcd`` command the grid needs done first (data, a pretraining run, an export).

    Attributes:
        name: File-system name of the step (its log and marker).
        run: ``dtcd`` arguments, e.g. ``[fit, --config, experiments/pretrain/demo.yaml]``.
        creates: The file (or directory) the step produces. A file is removed before an
            unfinished step runs again, so a stale or half-written one is never taken for the
            step's output (a Lightning ``last.ckpt`` exists after the first epoch).
        per_seed: Run once per sweep seed, ``{seed}`` in ``run`` and ``creates`` replaced
            (pretraining per seed, so seeds measure the spread of pretraining too).
    """

    name: str
    run: tuple[str, ...]
    creates: str
    per_seed: bool = False

    def __post_init__(self) -> None:
        if self.per_seed and '{seed}' not in self.creates:
            raise ValueError(f'{self.name}: a per_seed step needs {{seed}} in creates')

    def for_seeds(self, seeds: Sequence[int]) -> list[Step]:
        """The steps to run: this one, or one per seed when ``per_seed``."""
        if not self.per_seed:
            return [self]
        return [
            Step(
                f'{self.name}_seed{seed}',
                tuple(with_seed(a, seed) for a in self.run),
                with_seed(self.creates, seed),
            )
            for seed in seeds
        ]

    def command(self) -> list[str]:
        """The command line, with this Python's ``dtcd``."""
        return [*DTCD, *self.run]

    def marker(self, out: Path) -> Path:
        """Written when the step succeeds; holds :attr:`arguments`."""
        return out / 'prepare' / f'{self.name}.done'

    @property
    def arguments(self) -> str:
        """The step's ``dtcd`` arguments as one line, what its marker records."""
        return shlex.join(self.run) + '\n'

    def log(self, out: Path) -> Path:
        """The step's output."""
        return out / 'prepare' / f'{self.name}.log'

    def finished(self, out: Path) -> bool:
        """Whether this very step (same arguments) succeeded and its output is still there.

        A directory ``creates`` only needs to exist (the command overwrites it); changing a step's
        ``run`` makes it run again.
        """
        marker = self.marker(out)
        return (
            marker.exists() and marker.read_text() == self.arguments and Path(self.creates).exists()
        )


class StepFailed(RuntimeError):
    """A ``prepare`` step exited with an error: the cells that need it cannot run."""


@dataclass(frozen=True)
class Sweep:
    """A sweep file: the grid and the arguments shared by its cells."""

    backbones: tuple[Backbone, ...]
    datasets: tuple[Dataset, ...]
    seeds: tuple[int, ...] = (0,)
    overrides: tuple[str, ...] = ()
    data_root: str | None = None
    name: str = 'sweep'
    prepare: tuple[Step, ...] = ()
    ablation: bool = False
    claims: tuple[Claim, ...] = ()

    @classmethod
    def load(cls, path: Path) -> Sweep:
        """Read a sweep YAML file (see the module docstring)."""
        raw = yaml.safe_load(path.read_text())
        unknown = set(raw) - {field.name for field in fields(cls)}
        if unknown:
            raise ValueError(f'{path}: unknown keys {sorted(unknown)}')
        if not isinstance(raw.get('ablation', False), bool):
            raise ValueError(f'{path}: ablation must be true or false, got {raw["ablation"]!r}')
        seeds = tuple(raw.get('seeds', (0,)))
        steps = _entries(Step, raw, 'prepare', path, sequences=('run',))
        sweep = cls(
            backbones=_entries(Backbone, raw, 'backbones', path, ('task_groups',), required=True),
            datasets=_entries(Dataset, raw, 'datasets', path, ('overrides',), required=True),
            seeds=seeds,
            overrides=tuple(raw.get('overrides', ())),
            data_root=raw.get('data_root'),
            name=raw.get('name', path.stem),
            ablation=raw.get('ablation', False),
            prepare=tuple(one for step in steps for one in step.for_seeds(seeds)),
            claims=_entries(Claim, raw, 'claims', path),
        )
        names = [step.name for step in sweep.prepare]
        if len(set(names)) != len(names):
            raise ValueError(f'{path}: prepare step names must be unique, got {names}')
        for dataset in sweep.datasets:  # a missing config or a non-probe fails before any run
            dataset.task_and_metric()
        return sweep

    def cells(self) -> list[Cell]:
        """The grid, dataset-major (one dataset's backbones finish together).

        A backbone meets only the datasets of its ``task_groups``.
        """
        return [
            Cell(b, d, s)
            for d in self.datasets
            for s in self.seeds
            for b in self.backbones
            if d.task_group in b.task_groups
        ]


def _entries(
    kind: type,
    raw: dict[str, Any],
    key: str,
    path: Path,
    sequences: Sequence[str] = (),
    required: bool = False,
) -> tuple[Any, ...]:
    """The ``key`` list of a sweep file as ``kind`` objects; a bad entry is named in the error.

    ``sequences`` are fields given as YAML lists, stored as tuples of strings; a ``required``
    list must have entries.
    """
    if required and not raw.get(key):
        raise ValueError(f'{path}: needs a non-empty {key!r} list')
    built = []
    for i, entry in enumerate(raw.get(key) or ()):
        try:
            lists = {f: tuple(str(a) for a in entry[f]) for f in sequences if f in entry}
            built.append(kind(**{**entry, **lists}))
        except (TypeError, ValueError) as error:
            raise ValueError(f'{path}: {key}[{i}] {entry!r}: {error}') from error
    return tuple(built)


@dataclass
class CellOutcome:
    """What running (or skipping) a cell gave."""

    cell: Cell
    status: str  # 'done', 'rerun' (was stale), 'cached', 'kept' (stale, kept), 'failed'
    result: Result | None = None
    log: Path | None = None
    error: str = ''
    stale: tuple[str, ...] = ()  # what changed since the stored result was made


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a killed sweep never leaves half a result."""
    tmp = path.with_suffix(path.suffix + '.tmp')
    tmp.write_text(text)
    os.replace(tmp, path)


def _run_logged(command: list[str], log: Path, env: dict[str, str]) -> int:
    """Run ``command`` with its output in ``log`` (headed by the command line); its exit code."""
    with log.open('w') as file:
        file.write(shlex.join(command) + '\n\n')
        file.flush()
        return subprocess.call(command, stdout=file, stderr=subprocess.STDOUT, env=env)


def stored_result(cell: Cell, out: Path) -> tuple[Result, Fingerprint | None] | None:
    """The cell's stored result and the fingerprint it was stored with, if it has one."""
    path = cell.result_path(out)
    if not path.exists():
        return None
    stored = json.loads(path.read_text())
    fingerprint = stored.get('fingerprint')
    return Result(**stored['result']), fingerprint and Fingerprint.from_json(fingerprint)


def run_cell(
    cell: Cell,
    out: Path,
    data_root: str | None,
    extra: Sequence[str],
    keep_checkpoints: bool,
    env: dict[str, str],
    steps: dict[str, str] | None = None,
    keep_stale: bool = False,
) -> CellOutcome:
    """Run one cell in a subprocess, or return its stored result if nothing it depends on
    changed (or ``keep_stale``); ``steps`` are the data-making prepare steps."""
    fingerprint = cell.fingerprint(data_root, extra, steps or {})
    stored = stored_result(cell, out)
    stale: tuple[str, ...] = ()
    if stored is not None:
        stale = tuple(fingerprint.differences(stored[1]))
        if not stale or keep_stale:
            return CellOutcome(cell, 'kept' if stale else 'cached', stored[0], stale=stale)
    run_dir = out / 'runs' / cell.name
    shutil.rmtree(run_dir, ignore_errors=True)  # a previous, unfinished attempt
    run_dir.mkdir(parents=True)
    log = run_dir / 'log.txt'
    command = cell.command(run_dir, data_root, extra)
    start = time.perf_counter()
    code = _run_logged(command, log, env)
    seconds = time.perf_counter() - start
    metrics_path = run_dir / 'test_metrics.json'
    if code != 0 or not metrics_path.exists():
        return CellOutcome(cell, 'failed', log=log, error=f'exit code {code}', stale=stale)
    metrics = json.loads(metrics_path.read_text())
    task, metric = cell.dataset.task_and_metric()
    if metric not in metrics:
        error = f'{metric} not in {sorted(metrics)}'
        return CellOutcome(cell, 'failed', log=log, error=error, stale=stale)
    result = Result(
        backbone=cell.backbone.name,
        dataset=cell.dataset.name,
        task=task,
        task_group=cell.dataset.task_group,
        metric=metric,
        value=metrics[metric],
        seed=cell.seed,
        time_s=round(seconds, 1),
    )
    if not keep_checkpoints:
        shutil.rmtree(run_dir / 'checkpoints', ignore_errors=True)
    record = {
        'result': asdict(result),
        'metrics': metrics,
        'command': command,
        'fingerprint': fingerprint.to_json(),
    }
    _write_atomic(cell.result_path(out), json.dumps(record, indent=2) + '\n')
    return CellOutcome(cell, 'rerun' if stale else 'done', result, log=log, stale=stale)


def run_step(step: Step, out: Path, env: dict[str, str]) -> None:
    """Run ``step`` from its start, removing a leftover output file first.

    Raises:
        StepFailed: The command failed; the message names its log.
    """
    creates = Path(step.creates)
    if creates.is_file():  # a directory is left for the command to overwrite
        creates.unlink()
    log = step.log(out)
    log.parent.mkdir(parents=True, exist_ok=True)
    code = _run_logged(step.command(), log, env)
    if code != 0 or not creates.exists():
        problem = f'exit code {code}' if code != 0 else f'it did not create {creates}'
        raise StepFailed(
            f'prepare step {step.name!r} failed ({problem}); log: {log}. Fix it and run the same '
            'command again: finished steps and cells are skipped.'
        )
    _write_atomic(step.marker(out), step.arguments)


def _prepare(sweep: Sweep, out: Path, env: dict[str, str]) -> None:
    """Run the steps not finished yet (a changed step's outputs make its cells stale)."""
    total = len(sweep.prepare)
    for i, step in enumerate(sweep.prepare, start=1):
        head = f'[prepare {i}/{total}] {step.name:<40}'
        if step.finished(out):
            print(f'{head} cached', flush=True)
            continue
        print(f'{head} running; log: {step.log(out)}', flush=True)
        start = time.perf_counter()
        run_step(step, out, env)
        print(f'{head} done   {time.perf_counter() - start:7.1f} s', flush=True)


def data_steps(sweep: Sweep) -> dict[str, str]:
    """``name -> arguments`` of the steps that make folders (data): cells read those by path, so
    a change of the step, not of bytes, is what makes the cells stale. Steps that make a file
    need not be listed: the cells that read it hash it."""
    return {s.name: s.arguments for s in sweep.prepare if not Path(s.creates).is_file()}


def _progress_line(i: int, n: int, outcome: CellOutcome) -> str:
    width = len(str(n))
    head = f'[{i:>{width}}/{n}] {outcome.cell.name:<48} {outcome.status:<6}'
    if outcome.stale:
        head += f' (stale: {"; ".join(outcome.stale)})'
    if outcome.result is None:
        return f'{head} {outcome.error}; log: {outcome.log}'
    r = outcome.result
    return f'{head} {r.time_s:7.1f} s  {r.metric}={r.value:.4f}'


def run_sweep(
    sweep: Sweep,
    out: Path,
    extra: Sequence[str] = (),
    workers: int = 1,
    keep_checkpoints: bool = False,
    data_root: str | None = None,
    command: str | None = None,
    keep_stale: bool = False,
    report_only: bool = False,
) -> list[CellOutcome]:
    """Run every missing or stale cell of ``sweep``, then write ``results.csv``, ``results.md``,
    plots.

    Args:
        sweep: The grid.
        out: Output directory (``cells/``, ``runs/``, the results).
        extra: CLI arguments appended to every cell (after the sweep's own).
        workers: Cells run at once; each gets ``cpu_count // workers`` torch threads.
        keep_checkpoints: Keep each cell's probe checkpoints (large for Swin-B).
        data_root: Overrides the sweep file's ``data_root``.
        command: The command line that runs this sweep, quoted in ``results.md``.
        keep_stale: Reuse stored results whose inputs changed (each is still named, ``kept``).
        report_only: Run nothing (no step, no cell): write the results of the stored cells.

    Returns:
        The outcome of every cell, in grid order (``missing`` ones under ``report_only``).

    Raises:
        StepFailed: A ``prepare`` step failed (no cell has run).
    """
    (out / 'cells').mkdir(parents=True, exist_ok=True)
    cells = sweep.cells()
    print(f'sweep {sweep.name}: {len(cells)} cells -> {out}', flush=True)
    if report_only:
        outcomes = [_stored_outcome(c, out) for c in cells]
        for i, outcome in enumerate(outcomes, start=1):
            print(_progress_line(i, len(cells), outcome), flush=True)
    else:
        outcomes = _run_cells(
            sweep, cells, out, extra, workers, keep_checkpoints, data_root, keep_stale
        )
    results = [o.result for o in outcomes if o.result is not None]
    if results:
        write_report(sweep, results, out, command)
    counts = {s: sum(o.status == s for o in outcomes) for s in STATUSES}
    print(', '.join(f'{n} {s}' for s, n in counts.items() if n or s in ('done', 'failed')))
    if results:
        print(f'results: {out / "results.md"}')
    for o in outcomes:
        if o.status == 'failed':
            print(f'FAILED {o.cell.name}: {o.error}; log: {o.log}')
        elif o.status == 'kept':
            print(f'KEPT STALE {o.cell.name}: {"; ".join(o.stale)}')
    return outcomes


#: Outcome statuses in the order the summary line counts them.
STATUSES = ('done', 'rerun', 'cached', 'kept', 'stored', 'missing', 'failed')


def _stored_outcome(cell: Cell, out: Path) -> CellOutcome:
    stored = stored_result(cell, out)
    if stored is None:
        return CellOutcome(cell, 'missing', error='no stored result')
    return CellOutcome(cell, 'stored', stored[0])


def _run_cells(
    sweep: Sweep,
    cells: list[Cell],
    out: Path,
    extra: Sequence[str],
    workers: int,
    keep_checkpoints: bool,
    data_root: str | None,
    keep_stale: bool,
) -> list[CellOutcome]:
    """The prepare steps, then every cell (run, rerun or reused), reported in grid order."""
    env = dict(os.environ)
    if workers > 1:
        env.setdefault('OMP_NUM_THREADS', str(max(1, (os.cpu_count() or 1) // workers)))
    _prepare(sweep, out, env)
    root, args, steps = data_root or sweep.data_root, [*sweep.overrides, *extra], data_steps(sweep)
    outcomes: list[CellOutcome] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(run_cell, c, out, root, args, keep_checkpoints, env, steps, keep_stale)
            for c in cells
        ]
        for i, future in enumerate(futures, start=1):
            outcomes.append(future.result())
            print(_progress_line(i, len(cells), outcomes[-1]), flush=True)
    return outcomes


def write_report(sweep: Sweep, results: list[Result], out: Path, command: str | None) -> None:
    """``results.csv``, ``results.md`` (with the sweep's claims) and the plots."""
    from dtcd.analysis.plots import plot_datasets, plot_teaser

    write_csv(results, out / 'results.csv')
    report = markdown(results, f'Sweep results: {sweep.name}', sweep.ablation, command=command)
    if sweep.claims:
        report += '\n' + claims_markdown(results, sweep.claims)
    (out / 'results.md').write_text(report)
    plot_teaser(results, out / 'teaser.png')
    plot_datasets(results, out / 'datasets.png')


def main(argv: Sequence[str]) -> None:
    """``dtcd sweep FILE --out DIR [-- extra fit arguments]``; exits 1 if a step or cell failed."""
    argv = list(argv)
    extra = argv[argv.index('--') + 1 :] if '--' in argv else []
    own = argv[: argv.index('--')] if '--' in argv else argv
    parser = argparse.ArgumentParser(
        prog='dtcd sweep',
        description="Run the sweep file's prepare steps, then evaluate backbones x probe configs "
        'x seeds, one `dtcd fit` subprocess per cell; re-running skips finished steps and cells. '
        'Arguments after `--` go to every cell (not to the prepare steps).',
    )
    parser.add_argument('sweep', type=Path, help='sweep YAML (experiments/sweeps/*.yaml)')
    parser.add_argument('--out', type=Path, required=True, help='output directory')
    parser.add_argument('--workers', type=int, default=1, help='cells run in parallel')
    parser.add_argument('--data-root', help="overrides the sweep file's data_root")
    parser.add_argument(
        '--keep-checkpoints', action='store_true', help="keep each cell's probe checkpoints"
    )
    parser.add_argument(
        '--keep-stale',
        action='store_true',
        help='reuse stored results whose command, files or dtcd version changed (named as kept)',
    )
    parser.add_argument(
        '--report-only',
        action='store_true',
        help='run no step and no cell: write results.csv / results.md / plots from stored cells',
    )
    args = parser.parse_args(own)
    try:
        outcomes = run_sweep(
            Sweep.load(args.sweep),
            args.out,
            extra,
            workers=args.workers,
            keep_checkpoints=args.keep_checkpoints,
            data_root=args.data_root,
            # The command that made the results: --report-only only re-renders them.
            command=shlex.join(['dtcd', 'sweep', *(a for a in argv if a != '--report-only')]),
            keep_stale=args.keep_stale,
            report_only=args.report_only,
        )
    except StepFailed as error:
        print(f'FAILED {error}', flush=True)
        raise SystemExit(1) from error
    if any(o.status == 'failed' for o in outcomes):
        raise SystemExit(1)
