"""SSL4EO-S12 v1.1 (Blumenstiel et al. 2025) read as its owners publish it, for ``dtcd shard``.

Two releases, both Zarr v2 with consolidated metadata (read here with zarr 3):

- **webdataset tars**: ``<split>/<modality>/ssl4eos12_shard_NNNNNN.tar``, one ``<key>.zarr.zip``
  member per location (``bands [time, band, y, x]``, ``center_lat``, ``center_lon``,
  ``cloud_mask [time, y, x]``, ``time``), the modalities' tars aligned by key;
- **zarr chunk files** (the older release): ``<split>/<modality>/*.zarr.zip`` of 64 locations
  each, ``bands [sample, time, band, y, x]``, ``time_ [sample, time]``, and Sentinel-2 digital
  numbers carrying the +1000 offset of ESA's processing baseline 04.00, which the tar release
  removed; it is removed here too, so shards of both releases hold reflectance x 10000.

Members are read by their byte offset in the tar, so any location can be converted on its own
(parallel workers, ``--limit``, a killed conversion continuing).
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ['SSL4EOS12V11Source', 'cf_datetimes', 'open_zarr_zip']

#: The +1000 digital-number offset of the chunk-file release's Sentinel-2 products.
CHUNK_FILE_S2_OFFSET = 1000
LEVELS = {'S2L1C': 'L1C', 'S2L2A': 'L2A'}
SAR = 'S1GRD'
_UNITS = {'nanoseconds': 1e-9, 'microseconds': 1e-6, 'milliseconds': 1e-3, 'seconds': 1.0,
          'minutes': 60.0, 'hours': 3600.0, 'days': 86400.0}  # fmt: skip


def open_zarr_zip(source: bytes | Path, where: str) -> Any:
    """A consolidated Zarr v2 ``.zarr.zip`` (bytes of a tar member, or a file) as a zarr group."""
    import zarr
    from zarr.core.buffer import default_buffer_prototype
    from zarr.storage import MemoryStore, ZipStore

    try:
        if isinstance(source, Path):
            store = ZipStore(source, mode='r')
        else:
            with zipfile.ZipFile(io.BytesIO(source)) as archive:
                buffer = default_buffer_prototype().buffer
                store = MemoryStore(
                    {n: buffer.from_bytes(archive.read(n)) for n in archive.namelist()}
                )
        return zarr.open_consolidated(store, zarr_format=2, mode='r')
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise ValueError(
            f'{where}: not a readable consolidated Zarr v2 zip ({type(error).__name__}: {error}); '
            'the file is damaged or incomplete: download it again.'
        ) from None


def cf_datetimes(array: Any, index: Any = ...) -> list[datetime]:
    """Datetimes of a CF-encoded time array (``'<unit> since <ISO date>'``, as xarray writes),
    of the elements ``index`` selects (all by default)."""
    unit, _, origin = str(array.attrs['units']).partition(' since ')
    start = datetime.fromisoformat(origin.strip().replace(' ', 'T')).replace(tzinfo=UTC)
    values = np.asarray(array[index], dtype=np.int64)
    if unit == 'nanoseconds':  # exact: no float round-trip through seconds
        return [start + timedelta(microseconds=int(v) // 1000) for v in values.flat]
    return [start + timedelta(seconds=float(v) * _UNITS[unit]) for v in values.flat]


def _read(group: Any, name: str, where: str, index: Any = ...) -> np.ndarray:
    """Array ``name`` of the group, or its elements ``index``: zarr decodes only their chunks."""
    try:
        return np.asarray(group[name][index])
    except KeyError:
        raise ValueError(f'{where}: no {name!r} array in the Zarr group.') from None
    except Exception as error:  # a chunk that fails to decode
        raise ValueError(
            f'{where}: {name!r} cannot be decoded ({type(error).__name__}: {error}); '
            'the file is damaged: download it again.'
        ) from None


class SSL4EOS12V11Source:
    """SSL4EO-S12 v1.1 locations, all four dates, from the tars or the zarr chunk files.

    Args:
        root: The dataset folder holding ``<split>/<modality>/``.
        split: ``'train'`` or ``'val'``.
        modality: The multispectral product: ``'S2L1C'`` (13 bands) or ``'S2L2A'`` (12).
        sar: Also keep the location's Sentinel-1 GRD ``VV``, ``VH`` backscatter (dB, float16)
            as ``sar`` ``[T, 2, H, W]``.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = 'train',
        modality: str = 'S2L1C',
        sar: bool | str = False,
    ) -> None:
        if modality not in LEVELS:
            raise ValueError(f'modality {modality!r}: SSL4EO-S12 v1.1 has {sorted(LEVELS)}.')
        self.root, self.modality = Path(root), modality
        self.sar = str(sar).lower() in ('true', '1', 'yes')
        folder = self.root / split / modality
        self.tars = sorted(folder.glob('*.tar'))
        self.chunk_files = sorted(folder.glob('*.zarr.zip'))
        if not self.tars and not self.chunk_files:
            raise FileNotFoundError(
                f'{folder}: no ssl4eos12_shard_*.tar (webdataset release) and no *.zarr.zip '
                '(chunk-file release). ROOT must hold <split>/<modality>/, e.g. '
                f'{root}/train/S2L1C/.'
            )
        self.modalities = [modality, *([SAR] if self.sar else [])]
        self.locations = self._tar_index() if self.tars else self._chunk_index()

    def _tar_index(self) -> list[dict[str, tuple[Path, int, int]]]:
        """Per location: modality -> (tar, byte offset, size) of its member."""
        members: dict[str, dict[str, dict[str, tuple[Path, int, int]]]] = {}
        for modality in self.modalities:
            for tar in self.tars:
                path = tar.parent.parent / modality / tar.name
                if not path.is_file():
                    raise FileNotFoundError(f'{path}: missing; the {modality} tars must sit beside '
                                            f'{tar} with the same names.')  # fmt: skip
                members.setdefault(tar.name, {})[modality] = _tar_members(path)
        locations = []
        for tar in self.tars:
            by_modality = members[tar.name]
            for key, member in by_modality[self.modality].items():
                location = {self.modality: member, 'key': key}
                for other in self.modalities[1:]:
                    if key not in by_modality[other]:
                        raise ValueError(
                            f'{tar.parent.parent / other / tar.name}: no member {key}.zarr.zip, '
                            f'which {tar} has; the modalities are not aligned.'
                        )
                    location[other] = by_modality[other][key]
                locations.append(location)
        return locations

    def _chunk_index(self) -> list[tuple[Path, int, str]]:
        """Per location: (chunk file name, index in it, sample id)."""
        locations = []
        for path in self.chunk_files:
            group = open_zarr_zip(path, str(path))
            ids = _read(group, 'sample', str(path)).astype(str)
            locations += [(path, i, str(sample_id)) for i, sample_id in enumerate(ids)]
        return locations

    def __len__(self) -> int:
        return len(self.locations)

    def __call__(self, index: int) -> dict[str, Any]:
        from dtcd.data.shards import make_sample

        location = self.locations[index]
        if isinstance(location, dict):
            read = {m: self._member(*location[m]) for m in self.modalities}
            sample_id = location['key']
        else:
            path, i, sample_id = location
            read = {m: self._from_chunk_file(path.parent.parent / m / path.name, i, m)
                    for m in self.modalities}  # fmt: skip
        image, bands, dates, lat, lon, cloud = read[self.modality]
        extra: dict[str, Any] = {'cloud_fraction': cloud}
        if self.sar:
            sar, sar_bands, *_ = read[SAR]
            extra |= {'sar': sar.astype(np.float16), 'sar_bands': [b.upper() for b in sar_bands]}
        return make_sample(image, bands, 'ssl4eo-s12-v1.1', sample_id, LEVELS[self.modality],
                           dates, lat, lon, **extra)  # fmt: skip

    def _member(self, tar: Path, offset: int, size: int) -> tuple:
        with tar.open('rb') as file:
            file.seek(offset)
            payload = file.read(size)
        where = f'{tar} (member at byte {offset})'
        if len(payload) != size:
            raise ValueError(
                f'{where}: truncated ({len(payload)} of {size} bytes); download it again.'
            )
        group = open_zarr_zip(payload, where)
        return _location(group, where, ..., 'time', _read(group, 'bands', where))

    def _from_chunk_file(self, path: Path, i: int, modality: str) -> tuple:
        group, where = _chunk_file(path), str(path)
        image = _read(group, 'bands', where, i)  # only this location's chunks are decoded
        if modality != SAR:
            image = (image.astype(np.int32) - CHUNK_FILE_S2_OFFSET).astype(image.dtype)
        return _location(group, where, i, 'time_', image)


def _location(group: Any, where: str, index: Any, time: str, image: np.ndarray) -> tuple:
    """(image, band names, ISO dates, lat, lon, cloud fraction per date) of the location that
    ``index`` selects in the group's per-location arrays (``...``: a one-location group)."""
    mask = _read(group, 'cloud_mask', where, index) if 'cloud_mask' in group else None
    dates = [t.date().isoformat() for t in cf_datetimes(group[time], index)]
    lat = float(_read(group, 'center_lat', where, index))
    lon = float(_read(group, 'center_lon', where, index))
    bands = _read(group, 'band', where).astype(str).tolist()
    return image, bands, dates, lat, lon, _cloud_fraction(mask)


@lru_cache(maxsize=2)
def _chunk_file(path: Path) -> Any:
    """The last chunk files opened: a conversion reads their locations one after another."""
    return open_zarr_zip(path, str(path))


def _tar_members(path: Path) -> dict[str, tuple[Path, int, int]]:
    """``key -> (tar, offset, size)`` of the ``<key>.zarr.zip`` members, checked against the
    file's size so a truncated download fails here, by name."""
    size = path.stat().st_size
    try:
        with tarfile.open(path) as tar:
            infos = [m for m in tar.getmembers() if m.name.endswith('.zarr.zip')]
    except tarfile.TarError as error:
        raise ValueError(
            f'{path}: not a readable tar ({error}): truncated or damaged; download it again.'
        ) from None
    for info in infos:
        if info.offset_data + info.size > size:
            raise ValueError(f'{path}: truncated inside {info.name}; download it again.')
    return {
        Path(m.name).name.removesuffix('.zarr.zip'): (path, m.offset_data, m.size) for m in infos
    }


def _cloud_fraction(mask: np.ndarray | None) -> list[float] | None:
    """Per date, the share of pixels the product's cloud mask flags (any non-zero class)."""
    if mask is None:
        return None
    return [round(float((m > 0).mean()), 4) for m in mask]
