"""Tiny GEO-Bench tasks in GEO-Bench's on-disk format (see :mod:`dtcd.data.geobench`).

Each band plane is constant, ``code(band) + sample index``, so tests can check band order by
value. Per-sample metadata is pickled as geobench does (``attrs['pickle'] = str(pickle.dumps(
attrs))``), with stand-ins for geobench's classes registered under ``geobench.dataset`` while
pickling, so the files reference geobench classes exactly like the real ones.
"""

from __future__ import annotations

import datetime
import itertools
import json
import pickle
import sys
import types
from pathlib import Path

import h5py
import numpy as np

S2_NAMES = (
    '01 - Coastal aerosol',
    '02 - Blue',
    '03 - Green',
    '04 - Red',
    '05 - Vegetation Red Edge',
    '06 - Vegetation Red Edge',
    '07 - Vegetation Red Edge',
    '08 - NIR',
    '08A - Vegetation Red Edge',
    '09 - Water vapour',
    '10 - SWIR - Cirrus',
    '11 - SWIR',
    '12 - SWIR',
)
S2_DTCD = (
    'B01',
    'B02',
    'B03',
    'B04',
    'B05',
    'B06',
    'B07',
    'B08',
    'B8A',
    'B09',
    'B10',
    'B11',
    'B12',
)
S1_NAMES = (
    '01 - VH.Real',
    '02 - VH.Imaginary',
    '03 - VV.Real',
    '04 - VV.Imaginary',
    '05 - VH.LEE Filtered',
    '06 - VV.LEE Filtered',
    '07 - VH.LEE Filtered.Real',
    '08 - VV.LEE Filtered.Imaginary',
)
RGBN_NAMES = ('Red', 'Green', 'Blue', 'NearInfrared')

#: task → (benchmark folder, band names, kind, number of classes, side).
TASKS: dict[str, tuple[str, tuple[str, ...], str, int, int]] = {
    'm-eurosat': ('classification_v1.0', S2_NAMES, 'multiclass', 10, 16),
    'm-bigearthnet': (
        'classification_v1.0',
        tuple(n for n in S2_NAMES if 'Cirrus' not in n),
        'multilabel',
        43,
        12,
    ),
    'm-so2sat': (
        'classification_v1.0',
        S1_NAMES + tuple(S2_NAMES[i] for i in (1, 2, 3, 4, 5, 6, 7, 8, 11, 12)),
        'multiclass',
        17,
        8,
    ),
    'm-SA-crop-type': (
        'segmentation_v1.0',
        (*S2_NAMES, 'CLOUD_PROBABILITY'),
        'segmentation',
        10,
        16,
    ),
    'm-pv4ger-seg': ('segmentation_v1.0', RGBN_NAMES[:3], 'segmentation', 2, 16),
}
#: Samples per split of the default partition; 0.10x_train keeps 1 training sample.
SPLITS = {'train': 10, 'valid': 2, 'test': 2}


def band_code(name: str) -> float:
    """The constant a band's planes carry (before the per-sample offset)."""
    for base, names in ((1000, S2_NAMES), (3000, S1_NAMES), (5000, RGBN_NAMES)):
        if name in names:
            return float(base + 10 * names.index(name))
    return 5.0


class _FakeGeobench:
    """Registers stand-in ``geobench.dataset`` classes so pickles name them like real files do."""

    def __enter__(self) -> types.ModuleType:
        package, module = types.ModuleType('geobench'), types.ModuleType('geobench.dataset')
        for name in ('SpectralBand', 'Band', 'Sample'):
            cls = type(name, (), {'__module__': 'geobench.dataset'})
            setattr(module, name, cls)
        package.dataset = module
        self.saved = {k: sys.modules.get(k) for k in ('geobench', 'geobench.dataset')}
        sys.modules.update({'geobench': package, 'geobench.dataset': module})
        return module

    def __exit__(self, *exc: object) -> None:
        for key, value in self.saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value


def _label(kind: str, count: int, index: int) -> object:
    if kind == 'multiclass':
        return np.int64(index % count) if index % 2 else index % count
    hot = np.zeros(count, dtype=np.int64)
    hot[[index % count, (3 * index + 1) % count]] = 1
    return hot


def write_task(root: Path, task: str, seed: int = 0) -> Path:
    """Write one task under ``root/<benchmark>/<task>/`` and return that folder."""
    benchmark, names, kind, count, side = TASKS[task]
    rng = np.random.default_rng(seed)
    folder = root / benchmark / task
    folder.mkdir(parents=True, exist_ok=True)
    ids = {split: [f'{split}_{i:03d}' for i in range(n)] for split, n in SPLITS.items()}
    with _FakeGeobench() as geobench:
        for index, sample in enumerate(itertools.chain(*ids.values())):
            attrs: dict[str, object] = {'bands_order': list(names)}
            with h5py.File(folder / f'{sample}.hdf5', 'w') as file:
                for name in names:
                    plane = np.full((side, side), band_code(name) + index, dtype=np.float32)
                    file.create_dataset(name, data=plane.astype(np.int16))
                    info = geobench.SpectralBand()
                    info.name = name
                    attrs[name] = {
                        'band_info': info,
                        'date': datetime.date(2020, 1, 1 + index % 28),
                        'spatial_resolution': 10.0,
                        'transform': (10.0, 0.0, 0.0, 0.0, -10.0, 0.0),
                        'crs': None,
                        'meta_info': {},
                    }
                if kind == 'segmentation':
                    mask = rng.integers(0, count, (side, side), dtype=np.int64)
                    file.create_dataset('label', data=mask.astype(np.int16))
                else:
                    attrs['label'] = _label(kind, count, index)
                file.attrs['pickle'] = str(pickle.dumps(attrs))
    stats = {
        n: {
            'min': 0.0,
            'max': 1e4,
            'mean': band_code(n),
            'std': 2.0 + i,
            'median': 1.0,
            'percentile_0.1': 0.0,
            'percentile_99.9': 1e4,
        }
        for i, n in enumerate(names)
    }
    stats['label'] = {'min': 0.0, 'max': count - 1.0, 'mean': 1.0, 'std': 1.0, 'median': 1.0}
    (folder / 'band_stats.json').write_text(json.dumps(stats))
    (folder / 'default_partition.json').write_text(json.dumps(ids))
    low = {**ids, 'train': ids['train'][:1]}
    (folder / '0.10x_train_partition.json').write_text(json.dumps(low))
    (folder / 'task_specs.pkl').write_bytes(b'not read by dtcd')
    return folder


def write(root: Path, seed: int = 0) -> Path:
    """Write every task of :data:`TASKS` under ``root`` (the GEO-Bench root) and return it."""
    for offset, task in enumerate(TASKS):
        write_task(root, task, seed + offset)
    return root
