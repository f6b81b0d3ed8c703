"""Write tiny SSL4EO-S12 v1.1 and Major TOM fixtures the way their owners write them, then record
what the owners' own readers return on them (the yardstick ``tests/data/test_corpora.py`` checks
dtcd's readers against).

Runs in a throwaway environment (the owners pin zarr 2.18; dtcd reads with zarr 3); see README.md
next to this file. Nothing here is copied from the owners: the writers are zarr 2.18 + xarray,
rasterio and pyarrow called in the layouts the owners document, and the readers are imported from
the owners' checkouts given on the command line.

    python make_fixtures.py OUT --ssl4eo-repo DLR-MF-DAS/SSL4EO-S12-v1.1 --majortom-repo Major-TOM
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
from datetime import datetime
from pathlib import Path

import numpy as np

SIZE = 16  # px per side (the real data: 264)
DATES = ['2020-03-14T10:30:21', '2020-06-02T10:40:19', '2020-09-10T10:30:21', '2020-12-19T10:44:09']
L1C = ['B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B10', 'B11', 'B12']
L2A = [band for band in L1C if band != 'B10']
MODALITIES = {'S2L1C': L1C, 'S2L2A': L2A, 'S1GRD': ['vv', 'vh']}
TARS = {
    'ssl4eos12_shard_000001.tar': ['0000173', '0080717'],
    'ssl4eos12_shard_000002.tar': ['0179869'],
}
CHUNK_FILES = {
    'ssl4eos12_train_seasonal_data_000001.zarr.zip': ['0000173', '0080717'],
    'ssl4eos12_train_seasonal_data_000002.zarr.zip': ['0179869', '0012333'],
}
LOCATIONS = {'0000173': (38.06, 15.65), '0080717': (42.66, 125.6), '0179869': (-23.06, 43.64),
             '0012333': (29.99, 48.18)}  # fmt: skip


def pixels(rng: np.random.Generator, modality: str, shape: tuple[int, ...]) -> np.ndarray:
    """Plausible digital numbers: S2 reflectance x 1e4 as int16, S1 backscatter in dB as float16."""
    if modality == 'S1GRD':
        return rng.uniform(-30, 0, shape).astype(np.float16)
    return rng.integers(0, 10000, shape).astype(np.int16)


def location_dataset(rng: np.random.Generator, modality: str, key: str):
    """One location as a v1.1 webdataset member holds it: bands [time, band, y, x] and metadata."""
    import xarray as xr

    bands = MODALITIES[modality]
    lat, lon = LOCATIONS[key]
    data = {
        'bands': (('time', 'band', 'y', 'x'), pixels(rng, modality, (4, len(bands), SIZE, SIZE))),
        'center_lat': ((), lat),
        'center_lon': ((), lon),
    }
    if modality != 'S1GRD':
        data['cloud_mask'] = (
            ('time', 'y', 'x'),
            rng.integers(0, 4, (4, SIZE, SIZE), dtype=np.uint8),
        )
    times = np.array(DATES, dtype='datetime64[ns]')
    return xr.Dataset(data, coords={'time': times, 'band': bands})


def zip_bytes(dataset, encoding: dict) -> bytes:
    """The dataset as a consolidated Zarr v2 ``.zarr.zip`` (zarr 2.18's ZipStore), in memory."""
    import tempfile

    import zarr

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, 'member.zarr.zip')
        store = zarr.ZipStore(str(path), mode='w')
        dataset.to_zarr(store, consolidated=True, encoding=encoding)
        store.close()
        return path.read_bytes()


def write_ssl4eo_tars(root: Path, rng: np.random.Generator) -> None:
    """``train/<modality>/ssl4eos12_shard_NNNNNN.tar``: ``<key>.zarr.zip`` members by key."""
    for modality in MODALITIES:
        folder = root / 'train' / modality
        folder.mkdir(parents=True, exist_ok=True)
        for tar_name, keys in TARS.items():
            with tarfile.open(folder / tar_name, 'w') as tar:
                for key in keys:
                    dataset = location_dataset(rng, modality, key)
                    encoding = {
                        'bands': {'chunks': (1, len(MODALITIES[modality]), SIZE, SIZE)},
                        # Integer nanoseconds, as the owners' reader expects ("time" > 1e6).
                        'time': {'units': 'nanoseconds since 1970-01-01', 'dtype': 'int64'},
                    }
                    payload = zip_bytes(dataset, encoding)
                    info = tarfile.TarInfo(f'{key}.zarr.zip')
                    info.size = len(payload)
                    tar.addfile(info, io.BytesIO(payload))


def write_ssl4eo_chunk_files(root: Path, rng: np.random.Generator) -> None:
    """The older v1.1 release: ``train/<modality>/*.zarr.zip`` of several locations each, dims
    ``(sample, time, band, y, x)``, S2 digital numbers with the +1000 offset."""
    import xarray as xr

    for modality, bands in MODALITIES.items():
        folder = root / 'train' / modality
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, keys in CHUNK_FILES.items():
            values = pixels(rng, modality, (len(keys), 4, len(bands), SIZE, SIZE))
            if modality != 'S1GRD':
                values = values + np.int16(1000)
            times = np.array([[np.datetime64(d, 'ns') for d in DATES] for _ in keys])
            data = {
                'bands': (('sample', 'time', 'band', 'y', 'x'), values),
                'center_lat': (('sample',), [LOCATIONS[k][0] for k in keys]),
                'center_lon': (('sample',), [LOCATIONS[k][1] for k in keys]),
                'sample_id': (('sample', 'time'), [[f'{k}_{t}' for t in range(4)] for k in keys]),
                'time_': (('sample', 'time'), times),
            }
            if modality != 'S1GRD':
                mask = rng.integers(0, 4, (len(keys), 4, SIZE, SIZE), dtype=np.uint8)
                data['cloud_mask'] = (('sample', 'time', 'y', 'x'), mask)
            coords = {'sample': keys, 'time': np.arange(4), 'band': bands}
            dataset = xr.Dataset(data, coords=coords)
            encoding = {'bands': {'chunks': (len(keys), 1, len(bands), SIZE, SIZE)}}
            (folder / file_name).write_bytes(zip_bytes(dataset, encoding))


MAJOR_TOM_GSD = {'B01': 60, 'B02': 10, 'B03': 10, 'B04': 10, 'B05': 20, 'B06': 20, 'B07': 20,
                 'B08': 10, 'B8A': 20, 'B09': 60, 'B11': 20, 'B12': 20}  # fmt: skip
MAJOR_TOM_PX = 24  # 10 m pixels per side (the real patches: 1068)
MAJOR_TOM_ROWS = {
    'part_00001.parquet': [('433U_1040R', 32633, 38.9, 16.4, '20190424T095031'),
                           ('201D_80L', 32719, -18.1, -70.2, '20210107T144731')],
    'part_00002.parquet': [('730U_2R', 32631, 65.6, 0.3, '20230716T110621')],
}  # fmt: skip
HF = 'https://huggingface.co/datasets/Major-TOM/Core-S2L2A/resolve/main/'


def geotiff(values: np.ndarray, crs: int, gsd: int) -> bytes:
    """One band as the GeoTIFF bytes a Major TOM column holds."""
    from rasterio.io import MemoryFile
    from rasterio.transform import from_origin

    with MemoryFile() as memory:
        with memory.open(driver='GTiff', width=values.shape[1], height=values.shape[0], count=1,
                         dtype=values.dtype, crs=f'EPSG:{crs}',
                         transform=from_origin(500000, 4300000, gsd, gsd)) as raster:  # fmt: skip
            raster.write(values, 1)
        return bytes(memory.read())


def png(values: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(values).save(buffer, format='PNG')
    return buffer.getvalue()


def write_major_tom(root: Path, rng: np.random.Generator) -> None:
    """``Core-S2L2A``: ``images/part_NNNNN.parquet`` (one row group per patch, one GeoTIFF per band
    column at its native resolution) and ``metadata.parquet`` pointing at them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (root / 'images').mkdir(parents=True, exist_ok=True)
    metadata = []
    for part, rows in MAJOR_TOM_ROWS.items():
        columns: dict[str, list] = {'product_id': [], 'grid_cell': [], 'product_datetime': [],
                                    'thumbnail': [], 'cloud_mask': []}  # fmt: skip
        columns |= {band: [] for band in MAJOR_TOM_GSD}
        for row, (cell, crs, lat, lon, when) in enumerate(rows):
            product = f'S2A_MSIL2A_{when}_N0212_R079_T33SWC_{when}'
            columns['product_id'].append(product)
            columns['grid_cell'].append(cell)
            columns['product_datetime'].append(when)
            for band, gsd in MAJOR_TOM_GSD.items():
                side = MAJOR_TOM_PX * 10 // gsd
                values = rng.integers(0, 10000, (side, side)).astype(np.uint16)
                columns[band].append(geotiff(values, crs, gsd))
            mask = rng.integers(0, 2, (MAJOR_TOM_PX, MAJOR_TOM_PX)).astype(np.uint8)
            columns['cloud_mask'].append(geotiff(mask, crs, 10))
            thumb = rng.integers(0, 255, (MAJOR_TOM_PX, MAJOR_TOM_PX, 3)).astype(np.uint8)
            columns['thumbnail'].append(png(thumb))
            up, right = cell.split('_')
            metadata.append({
                'grid_cell': cell,
                'grid_row_u': int(up[:-1]) * (1 if up[-1] == 'U' else -1),
                'grid_col_r': int(right[:-1]) * (1 if right[-1] == 'R' else -1),
                'product_id': product,
                'timestamp': str(datetime.strptime(when, '%Y%m%dT%H%M%S')),
                'cloud_cover': float(mask.mean() * 100),
                'nodata': 0.0,
                'centre_lat': lat,
                'centre_lon': lon,
                'crs': f'EPSG:{crs}',
                'parquet_url': f'{HF}images/{part}',
                'parquet_row': row,
            })  # fmt: skip
        pq.write_table(pa.table(columns), root / 'images' / part, row_group_size=1)
    pq.write_table(pa.Table.from_pylist(metadata), root / 'metadata.parquet')


def owners_ssl4eo_tars(root: Path, repo: Path) -> dict[str, np.ndarray]:
    """What DLR-MF-DAS/SSL4EO-S12-v1.1's ``build_ssl4eos12_dataset`` returns, sample by sample."""
    sys.path.insert(0, str(repo))
    import fsspec
    import zarr
    from ssl4eos12_dataset import build_ssl4eos12_dataset

    expected: dict[str, np.ndarray] = {}
    for modality in MODALITIES:
        urls = str(root / 'train' / modality / 'ssl4eos12_shard_{000001..000002}.tar')
        dataset = build_ssl4eos12_dataset(
            urls=urls, modalities=[modality], split='train', batch_size=None,
            return_metadata=True, shuffle=False,
        )  # fmt: skip
        for sample in dataset:
            prefix = f'{modality}/{sample["__key__"]}'
            expected[f'{prefix}/image'] = sample['image']
            expected[f'{prefix}/time'] = sample['time']
            expected[f'{prefix}/center'] = np.array([sample['center_lat'], sample['center_lon']])
            if 'cloud_mask' in sample:
                expected[f'{prefix}/cloud_mask'] = sample['cloud_mask']
        # The band names, with the owners' zarr from the first member.
        with tarfile.open(root / 'train' / modality / next(iter(TARS))) as tar:
            member = tar.extractfile(tar.getmembers()[0]).read()
        mapper = fsspec.filesystem('zip', fo=io.BytesIO(member)).get_mapper('')
        expected[f'{modality}/bands'] = np.asarray(
            zarr.open_consolidated(mapper, mode='r')['band'][...]
        )
    return expected


def owners_ssl4eo_chunk_files(root: Path, repo: Path) -> dict[str, np.ndarray]:
    """What the owners' ``ZarrDataset`` returns per chunk file, with xarray's metadata."""
    sys.path.insert(0, str(repo))
    import xarray as xr
    from zarr_dataset import ZarrDataset

    dataset = ZarrDataset(root / 'train', modalities=list(MODALITIES))
    expected: dict[str, np.ndarray] = {}
    for index, file_name in enumerate(dataset.samples):
        for modality, values in dataset[index].items():
            expected[f'{file_name}/{modality}/image'] = values.numpy()
            with xr.open_zarr(root / 'train' / modality / file_name) as opened:
                expected[f'{file_name}/{modality}/bands'] = opened.band.values.astype(str)
                expected[f'{file_name}/{modality}/sample'] = opened.sample.values.astype(str)
                expected[f'{file_name}/{modality}/time'] = opened.time_.values.astype('int64')
                expected[f'{file_name}/{modality}/center'] = np.stack(
                    [opened.center_lat.values, opened.center_lon.values], axis=1
                )
    return expected


def owners_major_tom(root: Path, repo: Path) -> dict[str, np.ndarray]:
    """What ESA-PhiLab/Major-TOM's ``read_row`` returns for every metadata row (local files)."""
    import pandas as pd

    sys.path.insert(0, str(repo))
    from MajorTOM.metadata_helpers import read_row

    metadata = pd.read_parquet(root / 'metadata.parquet')
    expected: dict[str, np.ndarray] = {}
    for _, row in metadata.iterrows():
        row = row.copy()
        row['parquet_url'] = str(root / row['parquet_url'].removeprefix(HF))
        bands = read_row(row, columns=list(MAJOR_TOM_GSD))
        for band, values in bands.items():
            expected[f'{row["product_id"]}/{band}'] = values
    return expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out', type=Path)
    parser.add_argument('--ssl4eo-repo', type=Path, required=True)
    parser.add_argument('--majortom-repo', type=Path, required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(2025)
    names = ('ssl4eo_s12_v11', 'ssl4eo_s12_v11_zarr', 'major_tom/Core-S2L2A')
    tars, chunks, major_tom = (args.out / name for name in names)
    write_ssl4eo_tars(tars, rng)
    write_ssl4eo_chunk_files(chunks, rng)
    write_major_tom(major_tom, rng)
    expected = args.out / 'expected'
    expected.mkdir(exist_ok=True)
    np.savez_compressed(
        expected / 'ssl4eo_s12_v11.npz', **owners_ssl4eo_tars(tars, args.ssl4eo_repo)
    )
    np.savez_compressed(expected / 'ssl4eo_s12_v11_zarr.npz',
                        **owners_ssl4eo_chunk_files(chunks, args.ssl4eo_repo))  # fmt: skip
    np.savez_compressed(
        expected / 'major_tom.npz', **owners_major_tom(major_tom, args.majortom_repo)
    )
    libraries = ('zarr', 'numcodecs', 'xarray', 'webdataset', 'pyarrow', 'rasterio', 'numpy')
    versions = {name: __import__(name).__version__ for name in libraries}
    (expected / 'versions.json').write_text(json.dumps(versions, indent=1) + '\n')


if __name__ == '__main__':
    main()
