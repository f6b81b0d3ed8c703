"""Write tiny GEO-Bench v1.0 tasks with geo-bench's own writer, as committed test fixtures.

What it writes: for 8 GEO-Bench tasks (3 classification, 5 segmentation), a folder in the
published layout ``<out>/<benchmark>_v1.0/<task>/`` holding 6 samples of 32x32 pixels
(``<sample name>.hdf5``, written by ``geobench.dataset.write_sample_hdf5`` through
``Sample.write``), ``task_specs.pkl`` (``TaskSpecifications.save``), ``default_partition.json``
(train 3 / valid 2 / test 1) and ``0.10x_train_partition.json`` (train 1, same valid/test), both
written by ``Partition.save``, and ``band_stats.json`` computed by
``geobench.dataset.compute_dataset_statistics`` and saved the way geo-bench's
``make_benchmark/bandstats.py:produce_band_stats`` saves it. Pixel values are random but
deterministic (fixed seeds); only the format is real, not the content.

How each task is built follows geo-bench's own converters (``make_benchmark/dataset_converters``
in https://github.com/ServiceNow/geo-bench): the same predefined band lists
(``sentinel2_13_bands``, ``sentinel1_8_bands``, ``make_rgb_bands``), the same array dtypes, label
types, dates and georeferencing objects, and the steps of ``make_benchmark/create_benchmark.py``
(partition saved as ``default``, ``TaskSpecifications.self_update_info``, band stats on the
``default`` train split).

Run it in a throwaway environment, NOT in the project's (geo-benchmark pins ``numpy<2``):

    python -m venv /tmp/gbenv
    /tmp/gbenv/bin/pip install geo-benchmark==0.0.8 "numpy<2"
    /tmp/gbenv/bin/python tests/data/geobench_writer/make_fixtures.py tests/data/geobench

(from the repository root). Written with geo-benchmark 0.0.8 (PyPI; ``geobench.__version__``
still says 0.0.3), numpy 1.26.4, h5py 3.16.0. The output under ``tests/data/geobench`` is
committed, for the project's tests, which do not install geo-benchmark. Rerunning replaces each
task folder and produces byte-identical files.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geobench as gb
import numpy as np
import rasterio.transform
from geobench.dataset import compute_dataset_statistics
from rasterio.crs import CRS

GEOBENCH_VERSION = '0.0.8'
SIZE = 16  # pixels; the published tasks are 32 (m-so2sat) to 500 (m-nz-cattle) pixels wide
N_SAMPLES = 6
SPLITS = ('train', 'train', 'train', 'valid', 'valid', 'test')  # split of sample 0..5
SEED = 20240607
STATS_SEED = 0  # compute_dataset_statistics draws its pixel subsample from np.random

# -- band lists, as geo-bench's converters build them ------------------------------------------
S2_13 = list(gb.sentinel2_13_bands)  # eurosat.py: all 13 Sentinel-2 bands
S2_12 = S2_13[0:10] + S2_13[-2:]  # bigearthnet.py: without '10 - SWIR - Cirrus'
# so2sat.py: 8 Sentinel-1 channels, then Sentinel-2 02..08A and 11, 12 (18 bands).
SO2SAT = list(gb.sentinel1_8_bands) + S2_13[1:9] + S2_13[-2:]
# benin_smallholder_cashews.py and crop_type_south_africa.py: the 12 bands above plus a cloud band
# (13 in all), with different alt names and resolutions.
CASHEW = [*S2_12, gb.CloudProbability(alt_names=('CPL', 'CLD'), spatial_resolution=10)]
SA_CROP = [*S2_12, gb.CloudProbability(alt_names=('CPL', 'CLM'))]
CHESAPEAKE = [*gb.make_rgb_bands(1), gb.SpectralBand('NearInfrared', ('nir',), 1, 0.876)]
PV4GER = gb.make_rgb_bands(0.1)
NZ_CATTLE = gb.make_rgb_bands(0.1)

# -- class names (torchgeo's lists and the converters' LABELS) -----------------------------------
EUROSAT_CLASSES = [
    'AnnualCrop',
    'Forest',
    'HerbaceousVegetation',
    'Highway',
    'Industrial',
    'Pasture',
    'PermanentCrop',
    'Residential',
    'River',
    'SeaLake',
]
SO2SAT_CLASSES = [
    'Compact high rise',
    'Compact mid rise',
    'Compact low rise',
    'Open high rise',
    'Open mid rise',
    'Open low rise',
    'Lightweight low rise',
    'Large low rise',
    'Sparsely built',
    'Heavy industry',
    'Dense trees',
    'Scattered trees',
    'Bush, scrub',
    'Low plants',
    'Bare rock or paved',
    'Bare soil or sand',
    'Water',
]
BIGEARTHNET_CLASSES = [
    'Continuous urban fabric',
    'Discontinuous urban fabric',
    'Industrial or commercial units',
    'Road and rail networks and associated land',
    'Port areas',
    'Airports',
    'Mineral extraction sites',
    'Dump sites',
    'Construction sites',
    'Green urban areas',
    'Sport and leisure facilities',
    'Non-irrigated arable land',
    'Permanently irrigated land',
    'Rice fields',
    'Vineyards',
    'Fruit trees and berry plantations',
    'Olive groves',
    'Pastures',
    'Annual crops associated with permanent crops',
    'Complex cultivation patterns',
    'Land principally occupied by agriculture, with significant areas of natural vegetation',
    'Agro-forestry areas',
    'Broad-leaved forest',
    'Coniferous forest',
    'Mixed forest',
    'Natural grassland',
    'Moors and heathland',
    'Sclerophyllous vegetation',
    'Transitional woodland/shrub',
    'Beaches, dunes, sands',
    'Bare rock',
    'Sparsely vegetated areas',
    'Burnt areas',
    'Inland marshes',
    'Peatbogs',
    'Salt marshes',
    'Salines',
    'Intertidal flats',
    'Water courses',
    'Water bodies',
    'Coastal lagoons',
    'Estuaries',
    'Sea and ocean',
]

# m-cashew-plant: one sample per (chip, date); dates are among the converter's 25 least cloudy.
CASHEW_DATES = [
    datetime.date(2019, 11, 15),
    datetime.date(2019, 11, 20),
    datetime.date(2019, 11, 30),
    datetime.date(2019, 12, 5),
    datetime.date(2019, 12, 10),
    datetime.date(2019, 12, 15),
]
# m-nz-cattle: the converter dates every band and the label January 1st of the image's year.
NZ_YEARS = (2016, 2017, 2018, 2019, 2016, 2018)
NZ_LOCATIONS = ('Gisborne', 'Manawatu', 'Kapiti_Coast', 'Gisborne', 'Manawatu', 'Kapiti_Coast')


@dataclass
class Made:
    """One sample's content before it becomes a ``gb.Sample``."""

    name: str
    bands: list
    label: object


@dataclass
class TaskDef:
    """One task: where it goes, its specs and how to make sample ``i``."""

    benchmark: str
    name: str
    bands_info: list
    label_type: object
    spatial_resolution: float
    make: Callable[[np.random.Generator, int, TaskDef], Made]


# -- pixel and label content ---------------------------------------------------------------------
def planes(rng: np.random.Generator, n: int, low: float, high: float, dtype) -> np.ndarray:
    """``n`` random ``SIZE``x``SIZE`` planes in [low, high), cast to ``dtype``."""
    if np.issubdtype(np.dtype(dtype), np.integer):
        return rng.integers(low, high, size=(n, SIZE, SIZE)).astype(dtype)
    return rng.uniform(low, high, size=(n, SIZE, SIZE)).astype(dtype)


def block_mask(rng: np.random.Generator, n_classes: int, i: int, dtype, block: int = 4):
    """Blocky segmentation mask with at least 3 distinct classes (2 for binary tasks)."""
    cells = SIZE // block
    grid = rng.integers(0, n_classes, size=(cells, cells))
    # Force a few known classes so every mask has several, varying with the sample index.
    for k in range(min(3, n_classes)):
        grid[k, k] = (i + k) % n_classes
    return np.kron(grid, np.ones((block, block), dtype=np.int64)).astype(dtype)


def disk_mask(rng: np.random.Generator, n_disks: int) -> np.ndarray:
    """Binary uint8 mask of small disks, like nz_cattle's rasterised point annotations."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    mask = np.zeros((SIZE, SIZE), dtype=np.uint8)
    for _ in range(n_disks):
        cy, cx = rng.integers(3, SIZE - 3, size=2)
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 <= 9] = 1
    return mask


def utm_transform(x0: float, y0: float, res: float):
    return rasterio.transform.from_origin(x0, y0, res, res)


def bands_of(data: np.ndarray, spec: TaskDef, **kwargs) -> list:
    """One ``gb.Band`` per plane of ``data``, with ``spec.bands_info`` in order."""
    assert len(data) == len(spec.bands_info)
    return [
        gb.Band(data=plane, band_info=info, **kwargs)
        for plane, info in zip(data, spec.bands_info, strict=True)
    ]


# -- per task, following the converter of each ---------------------------------------------------
def make_eurosat(rng, i, spec):
    # eurosat.py: int16 digital numbers, convert_to_int16=False, no georeference, int label.
    data = planes(rng, len(spec.bands_info), 1, 5000, np.int16)
    bands = bands_of(data, spec, spatial_resolution=10, convert_to_int16=False)
    return Made(f'id_{i:04d}', bands, (3 * i + 1) % 10)  # a Python int, 6 distinct classes


def make_so2sat(rng, i, spec):
    # so2sat.py: float32 for all 18 channels; Sentinel-1 are signed small floats, Sentinel-2 are
    # reflectances in [0, ~1].
    s1 = planes(rng, 8, -0.5, 0.5, np.float32)
    s2 = planes(rng, 10, 0.0, 0.6, np.float32)
    bands = bands_of(np.concatenate([s1, s2]), spec, spatial_resolution=10, convert_to_int16=False)
    return Made(f'id_{i:04d}', bands, (5 * i + 2) % 17)  # a Python int, 6 distinct classes


def make_bigearthnet(rng, i, spec):
    # bigearthnet.py: int32 reads resampled to 120x120, stored as float32; multi-hot int64 label.
    data = planes(rng, len(spec.bands_info), 0, 10000, np.int32).astype(np.float32)
    bands = bands_of(data, spec, spatial_resolution=10, convert_to_int16=False)
    label = np.zeros(43, dtype=np.int64)
    label[rng.choice(43, size=1 + i % 4, replace=False)] = 1
    return Made(f'id_{i:04d}', bands, label)


def make_cashew(rng, i, spec):
    # benin_smallholder_cashews.py (GROUP_BY_TIMESTEP = False): one sample per chip and date,
    # float32 bands each dated with that date, georeferenced; the label Band has NO date.
    date = CASHEW_DATES[i]
    s2 = planes(rng, 12, 0, 6000, np.int32).astype(np.float32)
    cloud = planes(rng, 1, 0, 100, np.int32).astype(np.float32)
    transform, crs = utm_transform(400000.0 + 320 * i, 1050000.0, 10), CRS.from_epsg(32631)
    bands = bands_of(
        np.concatenate([s2, cloud]),
        spec,
        date=date,
        spatial_resolution=0.5,
        transform=transform,
        crs=crs,
        convert_to_int16=False,
    )
    label = gb.Band(
        data=block_mask(rng, 7, i, np.int64),  # torchgeo's cashew mask is int64
        band_info=spec.label_type,
        spatial_resolution=0.5,
        transform=None,
        crs=None,
    )
    return Made(f'sample_{i}', bands, label)


def make_sa_crop(rng, i, spec):
    # crop_type_south_africa.py: int16 bands (12 Sentinel-2 + 0/1 cloud mask), int16 label,
    # Affine transform and EPSG:32634 on every band and the label; no dates.
    s2 = planes(rng, 12, 1, 8000, np.int16)
    cloud = planes(rng, 1, 0, 2, np.int16)
    transform = rasterio.transform.Affine(10.0, 0.0, 331040.0, 0.0, -10.0, -3714560.0)
    crs = CRS.from_epsg(32634)
    bands = bands_of(
        np.concatenate([s2, cloud]),
        spec,
        spatial_resolution=10,
        transform=transform,
        crs=crs,
        convert_to_int16=False,
    )
    label = gb.Band(
        data=block_mask(rng, 10, i, np.int16),
        band_info=spec.label_type,
        spatial_resolution=10,
        transform=transform,
        crs=crs,
    )
    tile = 1000 + i // 2
    return Made(f'ref_south_africa_crops_competition_v1_train_labels_{tile}_{i % 2}', bands, label)


def make_chesapeake(rng, i, spec):
    # chesapeake_land_cover.py: uint8 NAIP values stored as float32, no transform, a CRS; the
    # label is torchgeo's int64 mask.
    data = planes(rng, 4, 0, 256, np.uint8).astype(np.float32)
    crs = CRS.from_epsg(26918)
    bands = bands_of(
        data, spec, spatial_resolution=1, transform=None, crs=crs, convert_to_int16=False
    )
    label = gb.Band(
        data=block_mask(rng, 7, i, np.int64),
        band_info=spec.label_type,
        spatial_resolution=1,
        transform=None,
        crs=crs,
    )
    return Made(f'id_{i:06d}', bands, label)


def make_pv4ger(rng, i, spec):
    # pv4ger.py (segmentation): uint8 RGB from PNG, uint8 0/1 mask, lat/lon transform and the
    # CRS as the string 'EPSG:4326'. Sample names are the image stems, '<lat>,<lon>'.
    lat, lon = 51.0 + 0.01 * i, 7.0 + 0.013 * i
    transform = rasterio.transform.from_bounds(
        lon - 0.0001, lat - 0.0001, lon + 0.0001, lat + 0.0001, SIZE, SIZE
    )
    data = planes(rng, 3, 0, 256, np.uint8)
    bands = bands_of(data, spec, spatial_resolution=0.1, transform=transform, crs='EPSG:4326')
    mask = block_mask(rng, 2, i, np.uint8)
    label = gb.Band(
        data=mask,
        band_info=spec.label_type,
        spatial_resolution=0.1,
        transform=transform,
        crs='EPSG:4326',
    )
    return Made(f'{lat:.6f},{lon:.6f}', bands, label)


def make_nz_cattle(rng, i, spec):
    # nz_cattle_detection.py (SEGMENTATION = True): uint8 RGB, every band AND the label dated
    # Jan 1st of the image year, meta_info with the location, EPSG:4326 transform; label uint8
    # disks rasterised around cattle points.
    year, location = NZ_YEARS[i], NZ_LOCATIONS[i]
    date = datetime.date(year, 1, 1)
    lon, lat = 175.0 + 0.01 * i, -40.9 + 0.01 * i
    transform = rasterio.transform.from_origin(lon - 16 * 0.1, lat + 16 * 0.1, 0.1, 0.1)
    crs = CRS.from_epsg(4326)
    common = dict(
        spatial_resolution=0.1,
        transform=transform,
        crs=crs,
        date=date,
        meta_info={'location': location.replace('Kapiti_Coast', 'Kapiti-Coast')},
    )
    bands = bands_of(planes(rng, 3, 0, 256, np.uint8), spec, **common)
    label = gb.Band(data=disk_mask(rng, 2 + i % 3), band_info=spec.label_type, **common)
    # Image stems parse as '<index>_<location>_(<year>)_<lon>,<lat>' in the converter.
    return Made(f'{i}_{location}_({year})_{lon:.4f},{lat:.4f}', bands, label)


def seg_label(n_classes: int, resolution: float, class_names=None):
    return gb.SegmentationClasses(
        'label', spatial_resolution=resolution, n_classes=n_classes, class_names=class_names
    )


TASKS = [
    TaskDef(
        'classification_v1.0',
        'm-eurosat',
        S2_13,
        gb.Classification(10, class_names=EUROSAT_CLASSES),
        10,
        make_eurosat,
    ),
    TaskDef(
        'classification_v1.0',
        'm-so2sat',
        SO2SAT,
        gb.Classification(17, class_names=SO2SAT_CLASSES),
        10,
        make_so2sat,
    ),
    TaskDef(
        'classification_v1.0',
        'm-bigearthnet',
        S2_12,
        gb.MultiLabelClassification(43, class_names=BIGEARTHNET_CLASSES),
        10,
        make_bigearthnet,
    ),
    TaskDef('segmentation_v1.0', 'm-cashew-plant', CASHEW, seg_label(7, 0.5), 0.5, make_cashew),
    TaskDef('segmentation_v1.0', 'm-SA-crop-type', SA_CROP, seg_label(10, 10), 10, make_sa_crop),
    TaskDef('segmentation_v1.0', 'm-chesapeake', CHESAPEAKE, seg_label(7, 1), 1, make_chesapeake),
    TaskDef(
        'segmentation_v1.0',
        'm-pv4ger-seg',
        PV4GER,
        seg_label(2, 0.1, ['no solar pv', 'solar pv']),
        0.1,
        make_pv4ger,
    ),
    TaskDef(
        'segmentation_v1.0',
        'm-nz-cattle',
        NZ_CATTLE,
        seg_label(2, 0.1, ['no cattle', 'cattle']),
        0.1,
        make_nz_cattle,
    ),
]


def write_task(out: Path, index: int, spec: TaskDef) -> Path:
    task_dir = out / spec.benchmark / spec.name
    if task_dir.exists():
        shutil.rmtree(task_dir)
    task_dir.mkdir(parents=True)

    task_specs = gb.TaskSpecifications(
        dataset_name=spec.name,
        benchmark_name=spec.benchmark,
        patch_size=(SIZE, SIZE),
        n_time_steps=1,
        bands_info=spec.bands_info,
        label_type=spec.label_type,
        spatial_resolution=spec.spatial_resolution,
    )
    task_specs.save(task_dir, overwrite=True)

    rng = np.random.default_rng([SEED, index])
    partition = gb.Partition()
    for i in range(N_SAMPLES):
        made = spec.make(rng, i, spec)
        gb.Sample(made.bands, label=made.label, sample_name=made.name).write(str(task_dir))
        partition.add(SPLITS[i], made.name)

    # create_benchmark.transform_dataset saves the final partition under the name 'default',
    # i.e. as a plain default_partition.json. (Partition.save(..., as_default=True), which the
    # converters use for their 'original' partition, would instead make default_partition.json a
    # symlink whose target is f'{directory}/{name}_partition.json', dangling when `directory` is
    # relative; git handles symlinks poorly, so a real file is what we want anyway.)
    partition.save(str(task_dir), 'default')
    low = gb.Partition(
        {
            'train': partition.partition_dict['train'][:1],
            'valid': list(partition.partition_dict['valid']),
            'test': list(partition.partition_dict['test']),
        }
    )
    low.save(str(task_dir), '0.10x_train')

    # create_benchmark.transform_dataset: refresh bands_info / patch_size / resolution from samples
    dataset = gb.GeobenchDataset(task_dir, partition_name='default')
    task_specs.self_update_info(samples=[dataset[k] for k in range(len(dataset))])
    task_specs.save(task_dir, overwrite=True)

    # make_benchmark/bandstats.py:produce_band_stats (that module is not in the PyPI package):
    # statistics over the default partition's train split, keyed by undated band name (+ 'label').
    dataset = gb.GeobenchDataset(task_dir, partition_name='default')
    dataset.set_partition('default')
    dataset.set_split('train')
    np.random.seed(STATS_SEED)
    _values, band_stats = compute_dataset_statistics(
        dataset, n_value_per_image=1000, n_samples=1000
    )
    with open(task_dir / 'band_stats.json', 'w', encoding='utf8') as fp:
        json.dump({k: v.to_dict() for k, v in band_stats.items()}, fp, indent=4, sort_keys=True)
    write_expected(task_dir)
    return task_dir


def write_expected(task_dir: Path) -> None:
    """``expected.json``: what geo-bench's own reader returns for each sample, as a yardstick
    for dtcd's reader (which never imports geobench): per split of the default partition, in
    partition order, the sample name, each band's first pixel by undated band name, and the
    label (an int, a multi-hot list, or a segmentation mask as nested lists)."""
    dataset = gb.GeobenchDataset(task_dir, partition_name='default')
    expected = {}
    for split in ('train', 'valid', 'test'):
        dataset.set_split(split)
        samples = []
        for k in range(len(dataset)):
            sample = dataset[k]
            label = sample.label
            if isinstance(label, gb.Band):
                label = np.asarray(label.data).squeeze().astype(int).tolist()
            else:
                label = np.asarray(label).astype(int).tolist()
            pixels = {b.band_info.name: float(np.asarray(b.data)[0, 0]) for b in sample.bands}
            samples.append({'name': sample.sample_name, 'pixels': pixels, 'label': label})
        expected[split] = samples
    with open(task_dir / 'expected.json', 'w', encoding='utf8') as fp:
        json.dump(expected, fp, sort_keys=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out', type=Path, help='output root, e.g. tests/data/geobench')
    args = parser.parse_args(argv)
    version = importlib.metadata.version('geo-benchmark')
    if version != GEOBENCH_VERSION:
        sys.exit(f'geo-benchmark {GEOBENCH_VERSION} expected, found {version}.')
    for index, spec in enumerate(TASKS):
        task_dir = write_task(args.out, index, spec)
        print(f'wrote {task_dir}')


if __name__ == '__main__':
    main()
