"""`make demo`: the whole pipeline offline on SynthEO, in a few minutes on 2 CPU cores.

1. generate SynthEO (skipped when present);
2. pretrain a tiny student with ``experiments/pretrain/demo.yaml`` through ``dtcd fit``;
3. linear-probe SynthEO scene classification (EuroSAT layout) with the pretrained student and
   with a randomly initialised one of the same architecture, and print both accuracies.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torchgeo.datasets import EuroSAT

from dtcd.bands import EUROSAT13
from dtcd.data.synthetic import generate
from dtcd.main import main as dtcd_main
from dtcd.models import MultiStemSwin
from dtcd.probes import accuracy, band_statistics, extract_features, fit_linear_classifier

CONFIG = Path(__file__).resolve().parents[1] / 'experiments' / 'pretrain' / 'demo.yaml'


def probe(backbone: MultiStemSwin, root: Path) -> dict[str, float]:
    """Train-split linear probe on the ``ms`` stem; accuracy on the val and test splits."""
    splits = {
        s: EuroSAT(root=str(root), split=s, bands=EUROSAT13) for s in ('train', 'val', 'test')
    }
    mean, std = band_statistics(splits['train'])
    features = {
        s: extract_features(backbone, d, 'ms', EUROSAT13, mean, std) for s, d in splits.items()
    }
    linear = fit_linear_classifier(*features['train'], num_classes=len(splits['train'].classes))
    return {s: accuracy(linear, *features[s]) for s in ('train', 'val', 'test')}


def run(synth_dir: Path, out_dir: Path, preset: str, max_epochs: int | None) -> dict[str, dict]:
    """Run the demo; returns the probe accuracies of both backbones."""
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
    dtcd_main(args)
    versions = sorted(
        (out_dir / 'demo_pretrain').glob('version_*'), key=lambda p: p.stat().st_mtime
    )
    checkpoint = versions[-1] / 'checkpoints' / 'last.ckpt'
    pretrained = MultiStemSwin.from_pretrained(checkpoint)
    torch.manual_seed(0)
    random = MultiStemSwin(**pretrained.config())
    results = {
        'pretrained (demo)': probe(pretrained, synth_dir / 'eurosat'),
        'random init': probe(random, synth_dir / 'eurosat'),
    }
    print(f'\nLinear probe on SynthEO scene classification (ms stem, {checkpoint}):')
    print(f'| {"backbone":<18} | train acc | val acc | test acc |')
    print(f'|{"-" * 20}|-----------|---------|----------|')
    for name, acc in results.items():
        print(f'| {name:<18} | {acc["train"]:9.3f} | {acc["val"]:7.3f} | {acc["test"]:8.3f} |')
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
    args = parser.parse_args(argv)
    run(args.synth_dir, args.out, args.preset, args.max_epochs)


if __name__ == '__main__':
    main()
