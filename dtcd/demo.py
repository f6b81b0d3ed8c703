"""`make demo`: the whole pipeline offline on SynthEO, in a few minutes on 2 CPU cores.

1. generate SynthEO (skipped when present);
2. train the stand-in optical teacher (:mod:`dtcd.standin_teacher`: a small ViT taught SynthEO's
   materials from RGB, since no DINOv3 weights can be had offline; skipped when present) and
   probe what it knows against an untrained student's RGB stem;
3. pretrain a tiny student with ``experiments/pretrain/demo.yaml``, its teachers taken from the
   SynthEO ablation's row 2 (the EMA teacher, and the optical teacher's class token distilled
   into the MS pass: of the six rows, the one that helped MS scene classification most over
   three seeds, README), through ``dtcd fit`` (the config that ran is saved next to the run);
4. print how far the student's patch features came toward the teachers' (the mean patch cosine
   of the first and last distillation pictures, see TensorBoard's ``features/`` images);
5. probe SynthEO scene classification (EuroSAT layout) with frozen features of the pretrained
   student and of randomly initialised ones of the same architecture (three seeds), with a linear
   classifier and a k-NN vote, and print the gain with a paired bootstrap interval.

``--control shuffled-targets`` pretrains with each teacher's targets handed to another image of
the batch (:class:`~dtcd.distill.ShuffledTargets`): the gain that remains is not the method's.
``--control random-teachers`` freezes the EMA teacher at its random initialisation and makes the
optical teacher random; distilling random teachers is known to teach something already, so it is
the weaker control (issue 15).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import yaml
from torch import Tensor, nn

from dtcd.analysis.headroom import accuracies, random_students, scene_probe
from dtcd.analysis.scalars import read_scalars
from dtcd.analysis.statistics import mean_and_std, paired_bootstrap
from dtcd.bands import RGB
from dtcd.data.synthetic import generate
from dtcd.main import main as dtcd_main
from dtcd.models import FrozenTeacher, MultiStemSwin
from dtcd.standin_teacher import (
    DEMO_MODEL,
    DEMO_MODEL_KWARGS,
    describe,
    train_standin_teacher,
)

CONFIG = Path(__file__).resolve().parents[1] / 'experiments' / 'pretrain' / 'demo.yaml'
#: The ablation row whose teachers the demo pretrains with (module docstring).
RECIPE = CONFIG.parent / 'ablation' / '2_cls.yaml'
#: Seeds of the randomly initialised students the pretrained one is compared with.
RANDOM_SEEDS = (0, 1, 2)
#: File name of the stand-in teacher under the SynthEO directory.
TEACHER_FILE = 'standin_teacher.safetensors'


class TeacherClassToken(nn.Module):
    """A frozen teacher read like a student stem (RGB in, class token out), for the probes."""

    def __init__(self, teacher: FrozenTeacher) -> None:
        super().__init__()
        self.teacher = teacher
        self.bands = {'rgb': RGB}

    def forward(self, x: Tensor, stem: str) -> Tensor:
        return self.teacher(x, RGB).pooled


#: Control runs (see the module docstring).
CONTROLS = ('shuffled-targets', 'random-teachers')


def demo_config(out_dir: Path, teacher_weights: Path | None, control: str | None = None) -> Path:
    """demo.yaml with the optical teacher's weights set, changed for a control run, saved where
    the run can be read from."""
    config = yaml.safe_load(CONFIG.read_text())
    teachers = yaml.safe_load(RECIPE.read_text())['model']['init_args']['teachers']
    config['model']['init_args']['teachers'] = teachers
    ms, optical = teachers
    random = control == 'random-teachers' or teacher_weights is None
    optical['init_args']['teacher']['init_args']['weights'] = (
        None if random else str(teacher_weights)
    )
    if control == 'random-teachers':
        ms['init_args']['momentum'] = [1.0, 1.0]
    elif control == 'shuffled-targets':
        config['model']['init_args']['teachers'] = [
            {'class_path': 'dtcd.distill.ShuffledTargets', 'init_args': {'teacher': t}}
            for t in teachers
        ]
    elif control is not None:
        raise ValueError(f'Unknown control {control!r}; choose one of {CONTROLS}.')
    name = 'demo_pretrain' + (f'_{control}' if control else '')
    config['trainer']['logger']['init_args']['name'] = name
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f'{name}.yaml'
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def standin_teacher(synth_dir: Path) -> Path:
    """The stand-in teacher's weights, trained first when missing."""
    path = synth_dir / TEACHER_FILE
    if path.is_file():
        print(f'Using the stand-in optical teacher in {path}.')
        return path
    print(describe(path, train_standin_teacher(path)))
    return path


def teacher_rows(weights: Path, student_config: dict, root: Path) -> dict[str, dict[str, float]]:
    """What the stand-in teacher knows on RGB scene classification, next to an untrained
    student's RGB stem."""
    teacher = FrozenTeacher(DEMO_MODEL, str(weights), (0,), None, model_kwargs=DEMO_MODEL_KWARGS)
    random = random_students(student_config, RANDOM_SEEDS[:1])[0]
    return {
        'stand-in teacher (RGB)': accuracies(scene_probe(TeacherClassToken(teacher), root, 'rgb')),
        'random init (RGB stem)': accuracies(scene_probe(random, root, 'rgb')),
    }


def feature_agreement(run_dir: Path) -> dict[str, tuple[tuple[int, float], tuple[int, float]]]:
    """First and last logged mean patch cosine of each teacher / student feature pair."""
    return {
        tag.removeprefix('features/').removesuffix('_cosine'): (series[0], series[-1])
        for tag, series in sorted(read_scalars(run_dir).items())
        if tag.startswith('features/') and tag.endswith('_cosine')
    }


def compare_with_random(
    label: str, ours: dict[str, Tensor], randoms: list[dict[str, Tensor]]
) -> dict[str, dict[str, float]]:
    """Print the pretrained-vs-random table; return the accuracies and the gains with their 95 %
    paired bootstrap interval (pooled over the random seeds: every pair of answers)."""
    results = {'pretrained': accuracies(ours)}
    for seed, correct in zip(RANDOM_SEEDS, randoms, strict=True):
        results[f'random seed {seed}'] = accuracies(correct)
    print('| backbone | linear test acc | k-NN test acc |\n|---|---:|---:|')
    print(
        f'| {label} | {results["pretrained"]["linear"]:.3f} | {results["pretrained"]["knn"]:.3f} |'
    )
    spread = {k: mean_and_std([accuracies(c)[k] for c in randoms]) for k in ('linear', 'knn')}
    print(
        f'| random init ({len(randoms)} seeds, mean ± std) | '
        f'{spread["linear"][0]:.3f} ± {spread["linear"][1]:.3f} | '
        f'{spread["knn"][0]:.3f} ± {spread["knn"][1]:.3f} |'
    )
    gains = {
        read_out: paired_bootstrap(
            ours[read_out].repeat(len(randoms)), torch.cat([c[read_out] for c in randoms])
        )
        for read_out in ('linear', 'knn')
    }
    for i, key in enumerate(('gain', 'gain_low', 'gain_high')):
        results[key] = {read_out: gain[i] for read_out, gain in gains.items()}
    print(
        '| gain over random (95 % paired bootstrap over test images) | '
        + ' | '.join(f'{g:+.3f} [{lo:+.3f}, {hi:+.3f}]' for g, lo, hi in gains.values())
        + ' |'
    )
    return results


def run(
    synth_dir: Path,
    out_dir: Path,
    preset: str,
    max_epochs: int | None,
    precision: str | None = None,
    control: str | None = None,
) -> dict[str, dict[str, float]]:
    """Run the demo; returns the probe accuracies (pretrained, random seeds, gains).

    ``precision`` (e.g. ``32-true``) overrides the one resolved from the hardware.
    """
    start = time.perf_counter()
    if not (synth_dir / 'pretrain' / 'index.csv').is_file():
        print(generate(synth_dir, preset=preset).format())
    else:
        print(f'Using the SynthEO data already in {synth_dir}.')
    weights = None if control == 'random-teachers' else standin_teacher(synth_dir)
    args = [
        'fit',
        '--config', str(demo_config(out_dir, weights, control)),
        '--data.init_args.root', str(synth_dir / 'pretrain'),
        '--trainer.logger.init_args.save_dir', str(out_dir),
    ]  # fmt: skip
    if max_epochs is not None:
        args += ['--trainer.max_epochs', str(max_epochs)]
    if precision is not None:
        args += ['--trainer.precision', precision]
    dtcd_main(args)
    name = 'demo_pretrain' + (f'_{control}' if control else '')
    versions = sorted((out_dir / name).glob('version_*'), key=lambda p: p.stat().st_mtime)
    checkpoint = versions[-1] / 'checkpoints' / 'last.ckpt'
    agreement = feature_agreement(versions[-1])
    pretrained = MultiStemSwin.from_pretrained(checkpoint)
    eurosat = synth_dir / 'eurosat'
    ours = scene_probe(pretrained, eurosat)
    randoms = [scene_probe(r, eurosat) for r in random_students(pretrained.config(), RANDOM_SEEDS)]
    label = f'pretrained, control: {control}' if control else 'pretrained'
    print(f'\nFrozen-feature probes on SynthEO scene classification (ms stem, {checkpoint}):')
    results = compare_with_random(label, ours, randoms)
    if weights is not None:
        print('\nWhat the stand-in optical teacher knows (RGB scene classification, same probes):')
        print('| network | linear test acc | k-NN test acc |\n|---|---:|---:|')
        for row, acc in teacher_rows(weights, pretrained.config(), eurosat).items():
            results[row] = acc
            print(f'| {row} | {acc["linear"]:.3f} | {acc["knn"]:.3f} |')
    print('\nTeacher-student agreement on fixed images (mean patch cosine, TensorBoard features/):')
    for tag, ((first_step, first), (last_step, last)) in agreement.items():
        print(
            f'  {tag:<34} step {first_step:>4}: {first:6.3f}  ->  step {last_step:>4}: {last:6.3f}'
        )
    elapsed = time.perf_counter() - start
    print(f'\nDemo finished in {elapsed:.0f} s. See the run with: tensorboard --logdir {out_dir}')
    return results


def main(argv: list[str] | None = None) -> None:
    """Command-line entry of the demo."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--synth-dir', type=Path, default=Path('data/synth'))
    parser.add_argument('--out', type=Path, default=Path('runs'))
    parser.add_argument('--preset', default='demo')
    parser.add_argument('--max-epochs', type=int, default=None)
    parser.add_argument(
        '--precision', default=None, help='e.g. 32-true (default: resolved from the hardware)'
    )
    parser.add_argument('--control', choices=CONTROLS, help='a control run (module docstring)')
    args = parser.parse_args(argv)
    run(args.synth_dir, args.out, args.preset, args.max_epochs, args.precision, args.control)


if __name__ == '__main__':
    main()
