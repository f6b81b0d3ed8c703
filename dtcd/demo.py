"""`make demo`: the whole pipeline offline on SynthEO, in a few minutes on 2 CPU cores.

1. generate SynthEO (skipped when present);
2. pretrain a tiny student with ``experiments/pretrain/demo.yaml`` through ``dtcd fit``;
3. print how far the student's patch features came toward the teachers' (the mean patch cosine
   of the first and last distillation pictures, see TensorBoard's ``features/`` images);
4. probe SynthEO scene classification (EuroSAT layout) with frozen features of the pretrained
   student and of a randomly initialised one of the same architecture (a linear classifier and
   a k-NN vote), and print the test accuracies.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torchgeo.datasets import EuroSAT

from dtcd.bands import EUROSAT13
from dtcd.data.datamodules.pretrain import normalize_like_pretraining
from dtcd.data.specs import EUROSAT_CLASSES
from dtcd.data.synthetic import generate
from dtcd.main import main as dtcd_main
from dtcd.models import MultiStemSwin
from dtcd.probes import accuracy, extract_features, fit_linear_classifier, knn_accuracy

CONFIG = Path(__file__).resolve().parents[1] / 'experiments' / 'pretrain' / 'demo.yaml'


def probe(backbone: MultiStemSwin, root: Path) -> dict[str, float]:
    """Frozen ``ms``-stem features of SynthEO's EuroSAT splits; linear and k-NN test accuracy.

    The linear classifier and the k-NN bank use the train split; scores are on the test split.
    """
    splits = {s: EuroSAT(root=str(root), split=s, bands=EUROSAT13) for s in ('train', 'test')}
    bands = backbone.bands['ms']
    features = {
        name: extract_features(
            backbone, dataset, 'ms', EUROSAT13, lambda x: normalize_like_pretraining(x, bands)
        )
        for name, dataset in splits.items()
    }
    linear = fit_linear_classifier(*features['train'], num_classes=len(EUROSAT_CLASSES))
    return {
        'linear': accuracy(linear, *features['test']),
        'knn': knn_accuracy(*features['train'], *features['test'], k=10),
    }


def feature_agreement(run_dir: Path) -> dict[str, tuple[tuple[int, float], tuple[int, float]]]:
    """First and last logged mean patch cosine of each teacher / student feature pair."""
    events = EventAccumulator(str(run_dir), size_guidance={'scalars': 0})
    events.Reload()
    agreement = {}
    for tag in sorted(events.Tags()['scalars']):
        if tag.startswith('features/') and tag.endswith('_cosine'):
            values = events.Scalars(tag)
            name = tag.removeprefix('features/').removesuffix('_cosine')
            agreement[name] = (
                (values[0].step, values[0].value),
                (values[-1].step, values[-1].value),
            )
    return agreement


def run(
    synth_dir: Path,
    out_dir: Path,
    preset: str,
    max_epochs: int | None,
    precision: str | None = None,
) -> dict[str, dict]:
    """Run the demo; returns the probe accuracies of both backbones.

    ``precision`` (e.g. ``32-true``) overrides the one resolved from the hardware.
    """
    start = time.perf_counter()
    if not (synth_dir / 'pretrain' / 'index.csv').is_file():
        print(generate(synth_dir, preset=preset).format())
    else:
        print(f'Using the SynthEO data already in {synth_dir}.')
    args = [
        'fit',
        '--config', str(CONFIG),
        '--data.init_args.root', str(synth_dir / 'pretrain'),
        '--trainer.logger.init_args.save_dir', str(out_dir),
    ]  # fmt: skip
    if max_epochs is not None:
        args += ['--trainer.max_epochs', str(max_epochs)]
    if precision is not None:
        args += ['--trainer.precision', precision]
    dtcd_main(args)
    versions = sorted(
        (out_dir / 'demo_pretrain').glob('version_*'), key=lambda p: p.stat().st_mtime
    )
    checkpoint = versions[-1] / 'checkpoints' / 'last.ckpt'
    agreement = feature_agreement(versions[-1])
    pretrained = MultiStemSwin.from_pretrained(checkpoint)
    torch.manual_seed(0)
    random = MultiStemSwin(**pretrained.config())
    results = {
        'pretrained (demo)': probe(pretrained, synth_dir / 'eurosat'),
        'random init': probe(random, synth_dir / 'eurosat'),
    }
    print(f'\nFrozen-feature probes on SynthEO scene classification (ms stem, {checkpoint}):')
    print(f'| {"backbone":<18} | linear test acc | k-NN test acc |')
    print(f'|{"-" * 20}|-----------------|---------------|')
    for name, acc in results.items():
        print(f'| {name:<18} | {acc["linear"]:15.3f} | {acc["knn"]:13.3f} |')
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
    args = parser.parse_args(argv)
    run(args.synth_dir, args.out, args.preset, args.max_epochs, args.precision)


if __name__ == '__main__':
    main()
