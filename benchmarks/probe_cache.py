"""How much the frozen-feature cache saves a linear probe, per epoch, on SynthEO's EuroSAT.

Trains :class:`dtcd.probes.ClassificationProbe` with the cache on and off, with the DataModule's
default training flips and with training augmentation off (evaluation transform for training),
and prints a Markdown table of epoch times. Usage::

    python benchmarks/probe_cache.py [--root data/synth/eurosat] [--variant swin_t] [--epochs 5]

Without ``--root`` a tiny SynthEO is generated in a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything

from dtcd.data.datamodules import EuroSATDataModule
from dtcd.data.synthetic import generate
from dtcd.probes import ClassificationProbe

#: A small Swin: quick on CPU, still dominated by the backbone rather than the linear layer.
SMALL = {'embed_dim': 32, 'depths': [1, 1, 2, 1], 'num_heads': [1, 2, 4, 8], 'window_size': 4}


class EpochTimer(Callback):
    """Wall time of each training epoch (validation included), and of its steps alone.

    Step time excludes data loading, the device transfer with normalisation and flips, and
    checkpoint writing: the part the cache can save.
    """

    def __init__(self) -> None:
        self.times: list[float] = []
        self.step_times: list[float] = []

    def on_train_epoch_start(self, trainer: Trainer, module: LightningModule) -> None:
        self.start = time.perf_counter()
        self.steps = 0.0

    def on_train_epoch_end(self, trainer: Trainer, module: LightningModule) -> None:
        self.times.append(time.perf_counter() - self.start)
        self.step_times.append(self.steps)

    def _begin(self, *args: object) -> None:
        self.step_start = time.perf_counter()

    def _end(self, *args: object) -> None:
        self.steps += time.perf_counter() - self.step_start

    on_train_batch_start = on_validation_batch_start = _begin
    on_train_batch_end = on_validation_batch_end = _end


class NoTrainAugmentation(EuroSATDataModule):
    """EuroSAT with the evaluation transform for training too (augmentation off)."""

    def _build_augmentations(self) -> None:
        super()._build_augmentations()
        self.train_aug = self.aug


def run(root: Path, cache: bool, augment: bool, variant: str, epochs: int) -> dict[str, float]:
    """Fit once; epoch times and the final training hit rate."""
    seed_everything(0)
    kwargs = SMALL if variant == 'small' else {}
    probe = ClassificationProbe(
        f'random:{"swin_t" if variant == "small" else variant}',
        kwargs,
        knn_k=0,
        cache_features=cache,
    )
    data_class = EuroSATDataModule if augment else NoTrainAugmentation
    timer = EpochTimer()
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(
            accelerator='auto',
            devices=1,
            max_epochs=epochs,
            default_root_dir=out,
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            callbacks=[timer],
        )
        trainer.fit(probe, datamodule=data_class(root=str(root), batch_size=32))
    hit_rate = probe.cache.hit_rate() if probe.cache is not None else float('nan')
    later = max(len(timer.times) - 1, 1)
    return {
        'first': timer.times[0],
        'later': sum(timer.times[1:]) / later,
        'steps': sum(timer.step_times[1:]) / later,
        'hit_rate': hit_rate,
    }


def main() -> None:
    """Print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', type=Path, default=None, help='SynthEO/EuroSAT eurosat folder')
    parser.add_argument('--variant', default='small', help="'small' or swin_t/swin_s/swin_b")
    parser.add_argument('--epochs', type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root
        if root is None:
            generate(tmp, preset='tiny')
            root = Path(tmp) / 'eurosat'
        rows = [
            (augment, cache, run(root, cache, augment, args.variant, args.epochs))
            for augment in (False, True)
            for cache in (False, True)
        ]
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU'
    print(f'Linear probe on {root} ({args.variant}, {args.epochs} epochs, {device}, ')
    print(f'{torch.get_num_threads()} threads). Epoch times include validation; "steps" is the')
    print('time inside training and validation steps only (no data loading or checkpointing).\n')
    print(
        '| train augmentation | cache | epoch 1 (s) | later epochs (s) | later steps (s) '
        '| step speed-up | epoch speed-up | last-epoch train hit rate |'
    )
    print('|---|---|---|---|---|---|---|---|')
    for augment, cache, r in rows:
        plain = next(p for a, c, p in rows if a == augment and not c)
        hit = '–' if not cache else f'{r["hit_rate"]:.0%}'
        print(
            f'| {"flips" if augment else "off"} | {"on" if cache else "off"} | {r["first"]:.2f} '
            f'| {r["later"]:.2f} | {r["steps"]:.2f} | {plain["steps"] / r["steps"]:.1f}× '
            f'| {plain["later"] / r["later"]:.1f}× | {hit} |'
        )


if __name__ == '__main__':
    main()
