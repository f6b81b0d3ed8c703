"""Major TOM Core Sentinel-2 (ESA Phi-lab) read as its owners publish it, for ``dtcd shard``.

A Core dataset folder (``Core-S2L2A`` or ``Core-S2L1C``) holds ``metadata.parquet`` (one row per
grid-cell patch: ``parquet_url``, ``parquet_row``, ``centre_lat``, ``centre_lon``, ``timestamp``,
``cloud_cover``, ...) and ``images/part_NNNNN.parquet``, one row group per patch and one column per
band holding the band as a whole GeoTIFF at its native resolution (10, 20 or 60 m). Bands are
brought to the 10 m grid by repeating pixels (nearest neighbour, exact at the factors 2 and 6),
so every stored pixel is one the owners' GeoTIFF holds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ['MajorTOMSource']

BAND_COLUMN = re.compile(r'^B(\d\d|8A)$')


def _geotiff(payload: bytes, where: str) -> np.ndarray:
    from rasterio.errors import RasterioIOError
    from rasterio.io import MemoryFile

    try:
        with MemoryFile(payload) as memory, memory.open() as raster:
            return raster.read(1)
    except RasterioIOError as error:
        raise ValueError(f'{where}: not a readable GeoTIFF ({error}); download it again.') from None


class MajorTOMSource:
    """Major TOM Core patches through ``metadata.parquet``: every band column, in band order.

    Args:
        root: The Core dataset folder (``metadata.parquet``, ``images/``).
        product_level: ``'L1C'`` or ``'L2A'``; by default L1C when the files have ``B10``.
    """

    def __init__(self, root: str | Path, product_level: str | None = None) -> None:
        import pyarrow.parquet as pq

        self.root = Path(root)
        metadata = self.root / 'metadata.parquet'
        if not metadata.is_file():
            raise FileNotFoundError(
                f'{metadata}: missing. ROOT must be a Major TOM Core folder (e.g. Core-S2L2A/) '
                'holding metadata.parquet and images/part_*.parquet.'
            )
        self.rows = pq.read_table(metadata).to_pylist()
        if not self.rows:
            raise ValueError(f'{metadata}: no rows.')
        first = self._parquet(self.rows[0])
        names = pq.ParquetFile(first).schema_arrow.names
        self.bands = sorted((n for n in names if BAND_COLUMN.match(n)), key=_band_order)
        self.level = product_level or ('L1C' if 'B10' in self.bands else 'L2A')

    def _parquet(self, row: dict[str, Any]) -> Path:
        """The local file of a row's ``parquet_url`` (its path below the dataset root)."""
        url = str(row['parquet_url'])
        relative = url.split('/resolve/main/', 1)[-1] if '/resolve/main/' in url else url
        for path in (self.root / relative, self.root / 'images' / Path(relative).name):
            if path.is_file():
                return path
        raise FileNotFoundError(
            f'{self.root}: metadata.parquet row for {row["product_id"]} points at {url}, which '
            f'is neither {self.root / relative} nor {self.root / "images" / Path(relative).name}.'
        )

    def __len__(self) -> int:
        return len(self.rows)

    def __call__(self, index: int) -> dict[str, Any]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from dtcd.data.shards import make_sample

        row = self.rows[index]
        path = self._parquet(row)
        where = f'{path} row group {row["parquet_row"]}'
        try:
            with pq.ParquetFile(path) as parquet:
                group = parquet.read_row_group(int(row['parquet_row']),
                                               columns=['product_id', *self.bands])  # fmt: skip
        except (pa.ArrowException, OSError) as error:
            raise ValueError(f'{where}: unreadable parquet ({error}); download it again.') from None
        if group['product_id'][0].as_py() != row['product_id']:
            raise ValueError(
                f'{where} holds {group["product_id"][0].as_py()}, not {row["product_id"]}: '
                'metadata.parquet does not match the files.'
            )
        planes = [_geotiff(group[b][0].as_py(), f'{where} column {b}') for b in self.bands]
        side = max(p.shape[0] for p in planes)
        image = np.stack(
            [
                _to_grid(p, side, f'{where} column {b}')
                for p, b in zip(planes, self.bands, strict=True)
            ]
        )
        date = str(row['timestamp'])[:10]
        sample_id = f'{row["grid_cell"]}/{row["product_id"]}'
        lat, lon = float(row['centre_lat']), float(row['centre_lon'])
        cloud = [round(float(row['cloud_cover']) / 100, 4)]
        return make_sample(image[None], self.bands, 'major-tom', sample_id, self.level, [date],
                           lat, lon, cloud_fraction=cloud)  # fmt: skip


def _to_grid(plane: np.ndarray, side: int, where: str) -> np.ndarray:
    factor, rest = divmod(side, plane.shape[0])
    if rest or plane.shape[0] != plane.shape[1]:
        raise ValueError(f'{where}: {plane.shape} px does not tile the {side} px 10 m grid.')
    return plane.repeat(factor, 0).repeat(factor, 1)


def _band_order(name: str) -> float:
    """B01 … B08, B8A, B09 …: B8A sits between B08 and B09."""
    return 8.5 if name == 'B8A' else float(name[1:])
