"""Images per second the pretraining data path delivers, per loader worker, at SSL4EO-S12 size.

Every source holds the same kind of image, SSL4EO-S12 Level-2A size (264 px, 12 bands int16 /
uint16, 4 dates per location), and is read by the DataModule a run would use, its loader
iterated as the training loop does (collate included, normalisation excluded: that runs on the
device). Sources, side by side in one run:

- ``shards (local)``: ``dtcd shard ssl4eo-s12`` output in a folder (StreamingPretrainDataModule),
  digital numbers crossing from the worker in their own dtype; and the same with float32 from
  the worker (how dtcd delivered them before);
- ``shards (S3)``: the same shards on a moto S3 server on localhost (plain http);
- ``SSL4EO v1 GeoTIFF``: TorchGeo's SSL4EOS12 on the location folders (SSL4EOS12DataModule);
- ``DEO HDF5``: one HDF5 file of the same images (HDF5PretrainDataModule);
- with ``--owners-python`` (the throwaway interpreter of ``tests/data/corpora_writer``) and
  ``--owners-ssl4eo`` (a checkout of DLR-MF-DAS/SSL4EO-S12-v1.1): SSL4EO-S12 v1.1 S2L2A tars
  (written by ``benchmarks/owners_ssl4eo_v11.py``) read by the owners' ``build_ssl4eos12_dataset``
  (batches of 8 locations, a DataLoader over it), and the same tars after ``dtcd shard``.

Usage::

    python -m benchmarks.data_path [--locations 48] [--workers 1] [--epochs 2] \
        [--owners-python /tmp/owners/bin/python --owners-ssl4eo PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from dtcd.bands import DEO10, S2_L2A_12
from dtcd.data.datamodules import (
    HDF5PretrainDataModule,
    SSL4EOS12DataModule,
    StreamingPretrainDataModule,
)
from dtcd.data.datamodules.streaming import ShardSample
from dtcd.data.shards import write_shards
from tests.data.fake import ssl4eo_s12

BATCH = 32  # images (8 locations of 4 dates)
OWNERS = Path(__file__).with_name('owners_ssl4eo_v11.py')


class FloatFromWorker(StreamingPretrainDataModule):
    """The shards' images converted to float32 in the loader worker (dtcd before 2026-12-07)."""

    def setup(self, stage: str) -> None:
        super().setup(stage)
        # ShardSample's HR path converts in the worker; the shards have no HR to put in.
        self.train_dataset.transform = ShardSample(self.bands, 'hr', True, self.input_dir)


def images_per_second(datamodule: Any, epochs: int) -> float:
    """Images delivered per second over ``epochs`` epochs, after the first batch (start-up)."""
    datamodule.setup('fit')
    loader = datamodule.train_dataloader()
    count, start = 0, None
    for _ in range(epochs):
        for batch in loader:
            if start is None:  # workers started and the first batch made: time from here
                start = time.perf_counter()
                continue
            count += batch['image'].shape[0]
    return count / (time.perf_counter() - start)


def s3_server() -> tuple[Any, str]:
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address='127.0.0.1', port=port, verbose=False)
    server.start()
    for key in ('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'):
        os.environ.setdefault(key, 'benchmark')
    os.environ.setdefault('AWS_DEFAULT_REGION', 'us-east-1')
    return server, f'http://127.0.0.1:{port}'


def write_hdf5(path: Path, images: int, seed: int = 0) -> Path:
    """``images`` uint16 tiles ``[12, 264, 264]`` (SSL4EO L2A bands) in one ``images`` array."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, 'w') as file:
        data = file.create_dataset('images', (images, 12, 264, 264), dtype='uint16')
        for i in range(images):
            data[i] = rng.integers(0, 10000, (12, 264, 264), dtype=np.uint16)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--locations', type=int, default=48)
    parser.add_argument('--workers', type=int, default=1)
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--owners-python', help="interpreter with the owners' pins (zarr 2.18)")
    parser.add_argument('--owners-ssl4eo', help='checkout of DLR-MF-DAS/SSL4EO-S12-v1.1')
    args = parser.parse_args()
    import boto3

    options = {'batch_size': BATCH, 'num_workers': args.workers, 'persistent_workers': True}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ssl4eo_s12.write(root / 'ssl4eo', split='s2a', locations=args.locations)
        shards = str(root / 'shards')
        write_shards('ssl4eo-s12', root / 'ssl4eo', shards, split='s2a')
        server, endpoint = s3_server()
        boto3.client('s3', endpoint_url=endpoint).create_bucket(Bucket='bench')
        s3 = {'endpoint_url': endpoint}
        write_shards('ssl4eo-s12', root / 'ssl4eo', 's3://bench/ssl4eo', split='s2a',
                     storage_options=s3)  # fmt: skip
        h5 = write_hdf5(root / 'images.h5', 4 * args.locations)
        stream = {'bands': DEO10, 'rgb_source': 's2', 'stats': 'ssl4eo-s2a', **options}
        sources = {
            'shards (local)': StreamingPretrainDataModule(input_dir=shards, **stream),
            'shards (local), float32 from the worker': FloatFromWorker(input_dir=shards, **stream),
            'shards (S3, localhost)': StreamingPretrainDataModule(
                input_dir='s3://bench/ssl4eo',
                storage_options=s3,
                cache_dir=str(root / 'cache'),
                **stream,
            ),
            'SSL4EO v1 GeoTIFF (TorchGeo)': SSL4EOS12DataModule(
                root=str(root / 'ssl4eo'), split='s2a', val_fraction=0.01, **options
            ),
            'DEO HDF5': HDF5PretrainDataModule(
                root=str(h5), file_bands=S2_L2A_12, val_fraction=0.01, **options
            ),
        }
        v11 = root / 'ssl4eo_v11'
        if args.owners_python:
            owners = [args.owners_python, str(OWNERS)]
            subprocess.run([*owners, 'write', str(v11), '--locations', str(args.locations)],
                           check=True)  # fmt: skip
            write_shards('ssl4eo-s12-v1.1', v11, str(root / 'v11-shards'), modality='S2L2A')
            sources['shards of the v1.1 tars (local)'] = StreamingPretrainDataModule(
                input_dir=str(root / 'v11-shards'), **stream
            )
        rates = {name: images_per_second(dm, args.epochs) for name, dm in sources.items()}
        if args.owners_python:
            read = [*owners, 'read', str(v11), '--repo', args.owners_ssl4eo, '--workers',
                    str(args.workers), '--epochs', str(args.epochs)]  # fmt: skip
            output = subprocess.run(read, check=True, capture_output=True, text=True).stdout
            rates["v1.1 tars, the owners' reader (webdataset, zarr 2.18)"] = float(
                output.split()[-1]
            )
        server.stop()
    print(f'CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; '
          f'{args.locations} locations x 4 dates, 264 px, 12 bands; batch {BATCH}; '
          f'{args.workers} loader worker(s); {args.epochs} epochs\n')  # fmt: skip
    print('| source | images/s | images/s per worker |')
    print('|---|---:|---:|')
    for name, rate in rates.items():
        print(f'| {name} | {rate:.0f} | {rate / max(args.workers, 1):.0f} |')


if __name__ == '__main__':
    main()
