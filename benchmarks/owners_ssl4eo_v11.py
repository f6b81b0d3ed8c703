"""The SSL4EO-S12 v1.1 owners' side of ``benchmarks/data_path.py``, run in their environment.

The owners pin zarr 2.18 (dtcd reads with zarr 3), so this runs under the throwaway interpreter
of ``tests/data/corpora_writer/README.md``:

    python benchmarks/owners_ssl4eo_v11.py write ROOT --locations 48
    python benchmarks/owners_ssl4eo_v11.py read ROOT --repo SSL4EO-S12-v1.1 --workers 1

``write`` makes S2L2A webdataset tars at full size (264 px, 12 bands int16, 4 dates, 64
locations per tar) with the fixture writer; ``read`` iterates the owners' own
``build_ssl4eos12_dataset`` through a PyTorch DataLoader and prints images (dates) per second.
"""

from __future__ import annotations

import argparse
import io
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).parents[1]
PER_TAR = 64


def write(root: Path, locations: int) -> None:
    sys.path.insert(0, str(ROOT / 'tests' / 'data' / 'corpora_writer'))
    import make_fixtures as fixtures

    fixtures.SIZE = 264
    rng = np.random.default_rng(0)
    folder = root / 'train' / 'S2L2A'
    folder.mkdir(parents=True, exist_ok=True)
    for first in range(0, locations, PER_TAR):
        name = f'ssl4eos12_shard_{first // PER_TAR + 1:06d}.tar'
        with tarfile.open(folder / name, 'w') as tar:
            for index in range(first, min(first + PER_TAR, locations)):
                key = f'{index:07d}'
                fixtures.LOCATIONS[key] = (
                    float(rng.uniform(-60, 60)),
                    float(rng.uniform(-180, 180)),
                )
                encoding = {
                    'bands': {'chunks': (1, 12, 264, 264)},
                    'time': {'units': 'nanoseconds since 1970-01-01', 'dtype': 'int64'},
                }
                payload = fixtures.zip_bytes(fixtures.location_dataset(rng, 'S2L2A', key), encoding)
                info = tarfile.TarInfo(f'{key}.zarr.zip')
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))


def read(root: Path, repo: Path, workers: int, epochs: int, batch: int) -> float:
    from torch.utils.data import DataLoader

    sys.path.insert(0, str(repo))
    from ssl4eos12_dataset import build_ssl4eos12_dataset

    tars = sorted((root / 'train' / 'S2L2A').glob('*.tar'))
    urls = str(tars[0].parent / f'ssl4eos12_shard_{{000001..{len(tars):06d}}}.tar')
    dataset = build_ssl4eos12_dataset(urls=urls, modalities=['S2L2A'], split='train',
                                      batch_size=batch, shuffle=False, partial=True)  # fmt: skip
    loader = DataLoader(dataset, batch_size=None, num_workers=workers,
                        persistent_workers=workers > 0)  # fmt: skip
    count, start = 0, None
    for _ in range(epochs):
        for batch in loader:  # image: [batch, time, band, y, x]
            if start is None:
                start = time.perf_counter()
                continue
            count += batch['image'].shape[0] * batch['image'].shape[1]
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('action', choices=['write', 'read'])
    parser.add_argument('root', type=Path)
    parser.add_argument('--locations', type=int, default=48)
    parser.add_argument('--repo', type=Path, help="the owners' checkout (read)")
    parser.add_argument('--workers', type=int, default=1)
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--batch', type=int, default=8, help='locations per batch (theirs: 8)')
    args = parser.parse_args()
    if args.action == 'write':
        write(args.root, args.locations)
    else:
        print(f'{read(args.root, args.repo, args.workers, args.epochs, args.batch):.1f}')


if __name__ == '__main__':
    main()
