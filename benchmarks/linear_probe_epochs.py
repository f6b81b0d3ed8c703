"""A 50-epoch frozen linear probe with features cached once vs recomputed every epoch.

Both paths run the same mini-batch AdamW on the same batches in the same order; with a frozen
encoder in eval mode the features are identical, so both end with the same linear layer (checked
here). Recomputing runs the encoder every epoch; caching runs it once
(:func:`dtcd.probes.extract_features`), then each epoch costs only the linear layer. The
recompute path is timed over a few epochs and its median epoch time scaled to ``--epochs``.

Usage:
    python benchmarks/linear_probe_epochs.py --root data/synth/eurosat --variant swin_t
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader
from torchgeo.datasets import EuroSAT

from dtcd.bands import EUROSAT13, reindex
from dtcd.data.datamodules.pretrain import normalize_like_pretraining
from dtcd.models import MultiStemSwin
from dtcd.probes import extract_features


def train_epoch(
    linear: torch.nn.Linear,
    optimizer: torch.optim.Optimizer,
    batches: list[tuple[Tensor, Tensor]],
    features_of: Callable[[Tensor], Tensor],
) -> None:
    """One epoch of the linear layer over fixed-order batches of (input, label)."""
    for inputs, labels in batches:
        loss = F.cross_entropy(linear(features_of(inputs)), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def main() -> None:
    """Time both paths and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', type=Path, required=True, help="SynthEO's or EuroSAT's folder")
    parser.add_argument('--variant', default='swin_t')
    parser.add_argument('--epochs', type=int, default=50)
    parser.add_argument('--recompute-epochs', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=32)
    args = parser.parse_args()

    torch.manual_seed(0)
    backbone = MultiStemSwin(args.variant).eval().requires_grad_(False)
    dataset = EuroSAT(root=str(args.root), split='train', bands=EUROSAT13)
    bands = backbone.bands['ms']

    def normalize(x: Tensor) -> Tensor:
        return normalize_like_pretraining(x, bands)

    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=False)
    batches = [
        (normalize(reindex(b['image'].float(), EUROSAT13, bands)), b['label']) for b in loader
    ]

    def fresh() -> tuple[torch.nn.Linear, torch.optim.Optimizer]:
        torch.manual_seed(1)
        linear = torch.nn.Linear(backbone.num_features, 10)
        return linear, torch.optim.AdamW(linear.parameters(), lr=1e-3)

    def encode(x: Tensor) -> Tensor:
        with torch.no_grad():
            return backbone(x, 'ms')

    linear_recompute, optimizer = fresh()
    epoch_times = []
    for _ in range(args.recompute_epochs):
        start = time.perf_counter()
        train_epoch(linear_recompute, optimizer, batches, encode)
        epoch_times.append(time.perf_counter() - start)
    recompute_total = statistics.median(epoch_times) * args.epochs

    start = time.perf_counter()
    features, labels = extract_features(backbone, dataset, 'ms', EUROSAT13, normalize)
    extraction = time.perf_counter() - start
    cached = [
        (features[i : i + args.batch_size], labels[i : i + args.batch_size])
        for i in range(0, len(features), args.batch_size)
    ]
    linear_cached, optimizer = fresh()
    start = time.perf_counter()
    for epoch in range(args.epochs):
        train_epoch(linear_cached, optimizer, cached, lambda f: f)
        if epoch + 1 == args.recompute_epochs:
            snapshot = linear_cached.weight.detach().clone()
    cached_training = time.perf_counter() - start
    same = torch.allclose(snapshot, linear_recompute.weight, atol=1e-5)

    cached_total = extraction + cached_training
    load = os.getloadavg()[0]
    print(
        f'Frozen linear probe, {args.epochs} epochs, random {args.variant}, '
        f'{len(dataset)} train images of {args.root}, batch {args.batch_size}, '
        f'{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, '
        f'load average {load:.1f}.\n'
    )
    print('| path | encoder passes | time (s) | speed-up |')
    print('|---|---|---|---|')
    print(
        f'| recompute features every epoch | {args.epochs} | {recompute_total:.1f} '
        f'(median epoch {statistics.median(epoch_times):.2f} s × {args.epochs}) | 1.0× |'
    )
    print(
        f'| cache features once | 1 | {cached_total:.1f} (extract {extraction:.2f} + '
        f'train {cached_training:.2f}) | {recompute_total / cached_total:.1f}× |'
    )
    print(
        f'\nSame linear layer after {args.recompute_epochs} epochs on both paths: {same}. '
        f'cache_speedup={recompute_total / cached_total:.1f}'
    )


if __name__ == '__main__':
    main()
