"""Pretraining sources converted to LitData shards (``dtcd shard SOURCE ROOT OUT``).

Every source dtcd pretrains from becomes the same kind of sample, written by LitData's
``optimize`` into chunked shards with an index that ``StreamingDataset`` reads from a folder or
object storage (:class:`~dtcd.data.datamodules.StreamingPretrainDataModule`). A sample is a
location:

- ``image``: ``[T, C, H, W]`` in the source's own digital numbers and dtype (``T`` dates, 1 for
  single-date sources), channels named by ``bands``;
- ``rgb_hr``: the paired high-resolution RGB as uint8 ``[3, kH, kW]`` (``[0, 0, 0]`` when none);
- ``bands``: the channel names, comma-separated (always matched by name, never by position);
- ``sar`` (sources with Sentinel-1, when asked for): backscatter in dB, float16 ``[T, 2, H, W]``;
- ``meta``: JSON with ``source``, ``id``, ``dates`` (ISO dates per ``T``), ``lat`` / ``lon``
  (``null`` where unknown), ``product_level``, ``dn_scale`` (the digital number of reflectance
  1.0), ``modalities`` (band names per modality: ``ms``, ``rgb_hr``, ``sar``) and what a source
  adds (``cloud_fraction`` per date for SSL4EO-S12 v1.1 and Major TOM).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dtcd.bands import S2_L1C_13, resolve_bands

__all__ = ['NO_HR', 'SOURCES', 'make_sample', 'open_source', 'write_shards']

#: ``rgb_hr`` of a location without a paired high-resolution image.
NO_HR = np.zeros((0, 0, 0), dtype=np.uint8)
#: Sentinel-2 digital number of reflectance 1.0 (L1C and L2A, before the 2022 offset).
S2_DN_SCALE = 10000


def make_sample(
    image: np.ndarray,
    bands: Sequence[str],
    source: str,
    sample_id: str,
    product_level: str,
    dates: list[str | None],
    lat: float | None = None,
    lon: float | None = None,
    rgb_hr: np.ndarray = NO_HR,
    sar: np.ndarray | None = None,
    sar_bands: Sequence[str] = (),
    **meta: Any,
) -> dict[str, Any]:
    """One location as a shard sample (the fields of the module docstring); ``meta`` adds
    source-specific metadata (e.g. ``cloud_fraction`` per date)."""
    modalities = {'ms': list(bands), 'rgb_hr': ['B04', 'B03', 'B02'] if rgb_hr.size else []}
    if sar is not None:
        modalities['sar'] = list(sar_bands)
    meta = {
        'source': source, 'id': sample_id, 'dates': dates, 'lat': lat, 'lon': lon,
        'product_level': product_level, 'dn_scale': S2_DN_SCALE, 'modalities': modalities, **meta,
    }  # fmt: skip
    sample = {'image': image, 'rgb_hr': rgb_hr, 'bands': ','.join(bands), 'meta': json.dumps(meta)}
    if sar is not None:
        sample['sar'] = sar
    return sample


class PairedSource:
    """A paired MS + HR RGB folder (``index.csv``, :class:`~dtcd.data.PairedMSRGB`): SynthEO's
    ``pretrain/`` or fMoW pairs. MS as uint16, the HR RGB as the uint8 image it is."""

    def __init__(self, root: str | Path, name: str = 'paired') -> None:
        from dtcd.data.datasets import PairedMSRGB

        self.dataset = PairedMSRGB(root, bands=S2_L1C_13, rgb_mode='s2')
        self.root, self.name = Path(root), name

    def __len__(self) -> int:
        return len(self.dataset)

    def __call__(self, index: int) -> dict[str, Any]:
        row = self.dataset.rows[index]
        image = self.dataset[index]['image'].numpy().round().astype(np.uint16)[None]
        hr = NO_HR
        if row['rgb']:
            with Image.open(self.root / row['rgb']) as picture:
                hr = np.ascontiguousarray(np.asarray(picture.convert('RGB')).transpose(2, 0, 1))
        return make_sample(image, S2_L1C_13, self.name, row['id'], 'L1C', [None], rgb_hr=hr)


class DEOHDF5Source:
    """The DEO authors' HDF5 file: every channel ``file_bands`` names, in the file's dtype."""

    def __init__(
        self,
        root: str | Path,
        file_bands: str | list[str] = 'deo_hdf5',
        layout: str = 'nchw',
        key: str = 'images',
    ) -> None:
        import h5py

        from dtcd.data.datasets import DEOHDF5

        self.bands = resolve_bands(file_bands)
        self.dataset = DEOHDF5(root, bands=self.bands, file_bands=self.bands, layout=layout,
                               key=key)  # fmt: skip
        with h5py.File(root, 'r') as file:
            self.dtype = file[key].dtype

    def __len__(self) -> int:
        return len(self.dataset)

    def __call__(self, index: int) -> dict[str, Any]:
        image = self.dataset[index]['image'].numpy().astype(self.dtype)[None]
        return make_sample(image, self.bands, 'deo-hdf5', str(index), 'L1C', [None])


class SSL4EOS12Source:
    """SSL4EO-S12 v1.0 location folders through TorchGeo: all four seasons in date order."""

    def __init__(self, root: str | Path, split: str = 's2c') -> None:
        from torchgeo.datasets import SSL4EOS12

        from dtcd.data.datamodules.pretrain import ssl4eo_band_name

        self.dataset = SSL4EOS12(str(root), split=split, seasons=4)
        self.bands = tuple(ssl4eo_band_name(b) for b in SSL4EOS12.metadata[split]['bands'])
        self.level = {'s2c': 'L1C', 's2a': 'L2A'}[split]
        self.locations = sorted(p.name for p in Path(root, split).iterdir() if p.is_dir())

    def __len__(self) -> int:
        return len(self.locations)

    def __call__(self, index: int) -> dict[str, Any]:
        sample = self.dataset[index]
        order = sample['t'].argsort()
        image = sample['image'].unflatten(0, (4, -1))[order].numpy().round().astype(np.int16)
        dates = [
            datetime.fromtimestamp(float(t), UTC).date().isoformat() for t in sample['t'][order]
        ]
        lat, lon = float(sample['y'][0]), float(sample['x'][0])
        return make_sample(image, self.bands, 'ssl4eo-s12', self.locations[index], self.level,
                           dates, lat, lon)  # fmt: skip


#: ``dtcd shard`` source names: what each reads from ``ROOT``.
SOURCES: dict[str, tuple[Callable[..., Any], str]] = {
    'synth': (lambda root: PairedSource(Path(root, 'pretrain'), 'synth'), "SynthEO's pretrain/"),
    'paired': (PairedSource, 'a paired MS + HR RGB folder (index.csv)'),
    'deo-hdf5': (DEOHDF5Source, "the DEO authors' HDF5 file"),
    'ssl4eo-s12': (SSL4EOS12Source, 'SSL4EO-S12 v1.0 folders (s2c/ or s2a/, via TorchGeo)'),
    'ssl4eo-s12-v1.1': (
        lambda root, **options: _import('ssl4eo_v11', 'SSL4EOS12V11Source')(root, **options),
        'SSL4EO-S12 v1.1: <split>/<modality>/ tars or zarr chunk files',
    ),
    'major-tom': (
        lambda root, **options: _import('major_tom', 'MajorTOMSource')(root, **options),
        'a Major TOM Core folder (metadata.parquet, images/*.parquet)',
    ),
}


def _import(module: str, name: str) -> Any:
    """A reader class imported when used: zarr and pyarrow load only for their sources."""
    import importlib

    return getattr(importlib.import_module(f'dtcd.data.{module}'), name)


def open_source(source: str, root: str | Path, **options: Any) -> Any:
    """The sample reader of ``source`` at ``root`` (``len()`` and ``reader(index)``)."""
    if source not in SOURCES:
        raise ValueError(f'Unknown source {source!r}; dtcd shards {sorted(SOURCES)}.')
    return SOURCES[source][0](root, **options)


def write_shards(
    source: str,
    root: str | Path,
    out: str,
    limit: int | None = None,
    workers: int = 1,
    chunk_bytes: str = '64MB',
    storage_options: dict[str, Any] | None = None,
    staging: str | Path | None = None,
    **options: Any,
) -> int:
    """Convert ``source`` at ``root`` into LitData shards in ``out`` (a folder or ``s3://...``).

    ``limit`` converts the first samples only. LitData records finished inputs
    (``use_checkpoint``): a killed conversion run again continues where it stopped. Shards for
    ``s3://`` are written to ``staging`` (a temporary folder by default) and uploaded with boto3
    once complete, ``index.json`` last, so readers never see half a shard set (and endpoints on
    plain http work, which LitData's own uploader refuses). Returns the samples converted.
    """
    from litdata import optimize

    reader = open_source(source, root, **options)
    count = len(reader) if limit is None else min(limit, len(reader))
    if count == 0:
        raise ValueError(f'{source} at {root}: no samples to shard.')
    remote = out.startswith('s3://')
    with tempfile.TemporaryDirectory(prefix='dtcd-shards-') as temporary:
        local = Path(staging or temporary) if remote else Path(out)
        optimize(
            fn=reader,
            inputs=list(range(count)),
            output_dir=str(local),
            chunk_bytes=chunk_bytes,
            num_workers=workers,
            use_checkpoint=True,
            # Not fork: a child forked from a process that ran torch's OpenMP threads can hang.
            start_method='spawn',
            verbose=True,
        )
        if remote:
            upload(local, out, storage_options or {})
    return count


def upload(folder: Path, url: str, storage_options: dict[str, Any]) -> None:
    """Copy a finished shard folder to ``s3://bucket/prefix``, ``index.json`` last."""
    import boto3

    from dtcd.data.object_storage import s3_object

    client = boto3.client('s3', **storage_options)
    files = sorted(p for p in folder.rglob('*') if p.is_file() and '.checkpoints' not in p.parts)
    files.sort(key=lambda p: p.name == 'index.json')
    for path in files:
        client.upload_file(str(path), *s3_object(url, path.relative_to(folder).as_posix()))
