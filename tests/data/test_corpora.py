"""SSL4EO-S12 v1.1 and Major TOM as their owners write them, read by dtcd as the owners read them.

The fixtures in ``tests/data/corpora`` were written with the owners' writer libraries (zarr 2.18 +
xarray; pyarrow + rasterio) in the owners' layouts, and ``corpora/expected/*.npz`` holds what the
owners' own readers returned on them (``tests/data/corpora_writer``): DLR-MF-DAS/SSL4EO-S12-v1.1's
``build_ssl4eos12_dataset`` and ``ZarrDataset``, ESA-PhiLab/Major-TOM's ``read_row``.
"""

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from dtcd.bands import S2_L2A_12
from dtcd.data.major_tom import MajorTOMSource
from dtcd.data.ssl4eo_v11 import SSL4EOS12V11Source

CORPORA = Path(__file__).parent / 'corpora'
TARS, CHUNK_FILES = CORPORA / 'ssl4eo_s12_v11', CORPORA / 'ssl4eo_s12_v11_zarr'
MAJOR_TOM = CORPORA / 'major_tom' / 'Core-S2L2A'


def owners(name: str) -> dict[str, np.ndarray]:
    with np.load(CORPORA / 'expected' / f'{name}.npz') as file:
        return {key: file[key] for key in file.files}


def iso_dates(nanoseconds: np.ndarray) -> list[str]:
    return [datetime.fromtimestamp(int(t) / 1e9, UTC).date().isoformat() for t in nanoseconds]


@pytest.mark.parametrize('modality', ['S2L1C', 'S2L2A'])
def test_ssl4eo_v11_tars_read_as_the_owners_reader_reads_them(modality: str) -> None:
    expected = owners('ssl4eo_s12_v11')
    keys = [k.split('/')[1] for k in expected if k.startswith(modality) and k.endswith('/image')]
    reader = SSL4EOS12V11Source(TARS, modality=modality, sar=True)
    assert len(reader) == len(keys) == 3
    for index, key in enumerate(keys):  # the owners' order: tar by tar, member by member
        sample = reader(index)
        meta = json.loads(sample['meta'])
        assert meta['id'] == key
        owned = expected[f'{modality}/{key}/image']
        assert sample['image'].dtype == owned.dtype == np.int16  # digital numbers, no offset
        np.testing.assert_array_equal(sample['image'], owned)
        assert sample['bands'].split(',') == expected[f'{modality}/bands'].tolist()
        assert meta['dates'] == iso_dates(expected[f'{modality}/{key}/time'])
        assert [meta['lat'], meta['lon']] == expected[f'{modality}/{key}/center'].tolist()
        cloudy = (expected[f'{modality}/{key}/cloud_mask'] > 0).mean(axis=(1, 2, 3))
        assert meta['cloud_fraction'] == pytest.approx(cloudy.tolist(), abs=1e-4)
        assert meta['product_level'] == modality[2:]
        assert sample['sar'].dtype == np.float16
        np.testing.assert_array_equal(sample['sar'], expected[f'S1GRD/{key}/image'])
        assert meta['modalities']['sar'] == [b.upper() for b in expected['S1GRD/bands']]


@pytest.mark.parametrize('modality', ['S2L1C', 'S2L2A'])
def test_ssl4eo_v11_chunk_files_read_as_the_owners_reader_reads_them(modality: str) -> None:
    expected = owners('ssl4eo_s12_v11_zarr')
    files = sorted({key.split('/')[0] for key in expected})
    reader = SSL4EOS12V11Source(CHUNK_FILES, modality=modality, sar=True)
    locations = [(f, j) for f in files for j in range(len(expected[f'{f}/{modality}/sample']))]
    assert len(reader) == len(locations) == 4
    for index, (file, j) in enumerate(locations):
        sample, owned = reader(index), f'{file}/{modality}'
        meta = json.loads(sample['meta'])
        assert meta['id'] == expected[f'{owned}/sample'][j]
        assert sample['bands'].split(',') == expected[f'{owned}/bands'].tolist()
        # The chunk-file release's S2 numbers carry ESA's +1000 offset; shards hold them without.
        np.testing.assert_array_equal(sample['image'], expected[f'{owned}/image'][j] - 1000)
        np.testing.assert_array_equal(sample['sar'], expected[f'{file}/S1GRD/image'][j])
        assert meta['dates'] == iso_dates(expected[f'{owned}/time'][j])
        assert [meta['lat'], meta['lon']] == expected[f'{owned}/center'][j].tolist()


def test_major_tom_reads_as_the_owners_reader_reads_it() -> None:
    expected = owners('major_tom')
    metadata = pq.read_table(MAJOR_TOM / 'metadata.parquet').to_pylist()
    reader = MajorTOMSource(MAJOR_TOM)
    assert len(reader) == len(metadata) == 3
    for index, row in enumerate(metadata):
        sample = reader(index)
        meta = json.loads(sample['meta'])
        bands = sample['bands'].split(',')
        owned = {k.split('/')[1]: v for k, v in expected.items() if k.startswith(row['product_id'])}
        assert bands == list(S2_L2A_12) and set(bands) == set(owned)
        assert sample['image'].shape == (1, 12, 24, 24) and sample['image'].dtype == np.uint16
        for channel, band in enumerate(bands):
            plane = owned[band]  # native resolution: 24 px at 10 m, 12 at 20 m, 4 at 60 m
            factor = 24 // plane.shape[0]
            np.testing.assert_array_equal(
                sample['image'][0, channel], np.kron(plane, np.ones((factor, factor), plane.dtype))
            )
        assert meta['id'] == f'{row["grid_cell"]}/{row["product_id"]}'
        assert meta['dates'] == [row['timestamp'][:10]] and meta['product_level'] == 'L2A'
        assert (meta['lat'], meta['lon']) == (row['centre_lat'], row['centre_lon'])


def damaged_copy(source: Path, tmp_path: Path) -> Path:
    copy = tmp_path / source.name
    shutil.copytree(source, copy)
    return copy


def test_corrupt_and_truncated_ssl4eo_members_are_named(tmp_path: Path) -> None:
    root = damaged_copy(TARS, tmp_path)
    tar = root / 'train' / 'S2L1C' / 'ssl4eos12_shard_000001.tar'
    reader = SSL4EOS12V11Source(root)
    _, offset, size = reader.locations[1]['S2L1C']
    with tar.open('r+b') as file:  # scramble the second member's zip
        file.seek(offset)
        file.write(bytes(size // 2))
    with pytest.raises(ValueError, match=rf'{tar} \(member at byte {offset}\): not a readable'):
        reader(1)
    assert json.loads(reader(0)['meta'])['id'] == '0000173'  # the others still read
    os.truncate(tar, offset + size // 2)
    with pytest.raises(ValueError, match=rf'{tar}: not a readable tar \(unexpected end of data\)'):
        SSL4EOS12V11Source(root)


def test_ssl4eo_modalities_out_of_step_and_wrong_layouts_are_named(tmp_path: Path) -> None:
    root = damaged_copy(TARS, tmp_path)
    (root / 'train' / 'S1GRD' / 'ssl4eos12_shard_000002.tar').unlink()
    with pytest.raises(FileNotFoundError, match=r'S1GRD/ssl4eos12_shard_000002\.tar: missing'):
        SSL4EOS12V11Source(root, sar=True)
    assert len(SSL4EOS12V11Source(root)) == 3  # without SAR it is not needed
    with pytest.raises(
        FileNotFoundError, match=r'no ssl4eos12_shard_\*\.tar .* and no \*\.zarr\.zip'
    ):
        SSL4EOS12V11Source(root / 'train')  # one level too deep
    with pytest.raises(ValueError, match="modality 'S1GRD'"):
        SSL4EOS12V11Source(root, modality='S1GRD')


def test_a_damaged_chunk_file_is_named(tmp_path: Path) -> None:
    root = damaged_copy(CHUNK_FILES, tmp_path)
    file = root / 'train' / 'S2L1C' / 'ssl4eos12_train_seasonal_data_000002.zarr.zip'
    file.write_bytes(file.read_bytes()[:1000])
    with pytest.raises(ValueError, match=f'{file}: not a readable consolidated Zarr v2 zip'):
        SSL4EOS12V11Source(root)


def test_corrupt_major_tom_files_are_named(tmp_path: Path) -> None:
    root = damaged_copy(MAJOR_TOM, tmp_path)
    part = root / 'images' / 'part_00002.parquet'
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    reader = MajorTOMSource(root)
    with pytest.raises(ValueError, match=f'{part} row group 0: unreadable parquet'):
        reader(2)
    (root / 'images' / 'part_00001.parquet').unlink()
    with pytest.raises(FileNotFoundError, match=r'points at https://huggingface\.co/.*part_00001'):
        MajorTOMSource(root)
    (root / 'metadata.parquet').unlink()
    with pytest.raises(
        FileNotFoundError, match=r'metadata\.parquet: missing\. ROOT must be a Major'
    ):
        MajorTOMSource(root)


def test_a_major_tom_band_that_is_not_a_geotiff_is_named(tmp_path: Path) -> None:
    import pyarrow as pa

    root = damaged_copy(MAJOR_TOM, tmp_path)
    part = root / 'images' / 'part_00002.parquet'
    table = pq.read_table(part)
    broken = table.set_column(table.schema.get_field_index('B05'), 'B05',
                              pa.array([b'not a tiff'], pa.binary()))  # fmt: skip
    pq.write_table(broken, part, row_group_size=1)
    with pytest.raises(ValueError, match=f'{part} row group 0 column B05: not a readable GeoTIFF'):
        MajorTOMSource(root)(2)
