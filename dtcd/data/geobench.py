"""GEO-Bench's on-disk task format, read without the ``geobench`` package.

The paper's classification and most segmentation numbers are on GEO-Bench ``m-*`` tasks
(PAPER.md §3.1). dtcd reads the published files directly: installing ``geobench`` pins old
dependencies, and its ``task_specs.pkl`` can only be read by unpickling arbitrary classes.

Layout dtcd expects (``geobench`` v1.0, as downloaded by ``geobench-download``)::

    <root>/classification_v1.0/m-eurosat/            (or segmentation_v1.0/m-cashew-plant/)
        <sample id>.hdf5                             one file per sample
        band_stats.json                              {band name: {"mean", "std", "min", ...}}
        default_partition.json                       {"train": [ids], "valid": [ids], "test": [ids]}
        0.10x_train_partition.json, ...              the official low-data partitions
        task_specs.pkl                               ignored (pickled geobench classes)

``root`` may also be the task folder itself. Assumptions, from ``geobench/dataset.py``
(``Sample.write_to_hdf5`` / ``load_sample_hdf5``) as we know it; the reader fails with a message
listing what it found when a file disagrees:

- Each band is one 2-D HDF5 dataset named by its GEO-Bench band name (``'02 - Blue'``,
  ``'08A - Vegetation Red Edge'``, ``'Red'``); all bands of a sample share one size. A band with
  an acquisition date is stored as ``<name>_<YYYY-MM-DD>`` (geo-bench's ``Band.get_descriptor``;
  m-cashew-plant, m-nz-cattle) while ``band_stats.json`` keeps the undated name: bands are
  matched by their undated name.
- A segmentation mask is a 2-D HDF5 dataset whose name starts with ``label`` (dated or not).
- A classification label is not an HDF5 dataset: it lives in the file attribute ``pickle``,
  ``str(pickle.dumps(attrs))`` with ``attrs['label']`` an integer (multi-class) or a multi-hot
  vector (multi-label). It is read with :class:`RestrictedUnpickler`, which builds no class outside
  a short allow-list (geobench's own classes become inert placeholders), so neither ``geobench``
  nor trust in the file is needed. A plain ``label`` attribute is accepted as well.
- Partition ids are sample file names without ``.hdf5``; the validation split is ``valid``.

Band names map to dtcd's Sentinel-2 names by their number and description (``'02 - Blue'`` →
``B02``, ``'08A - …'`` → ``B8A``); bands that are not Sentinel-2 (m-so2sat's Sentinel-1 channels,
cloud probability) are not yielded. Aerial RGB(N) tasks (m-pv4ger-seg, m-nz-cattle,
m-chesapeake) name their bands ``Red``, ``Green``, ``Blue`` (``NearInfrared``); these
become ``B04``, ``B03``, ``B02`` (``B08``) so that an RGB stem finds them by name. The spectral
responses differ from Sentinel-2's; the names say which colour, not which sensor.
"""

from __future__ import annotations

import ast
import io
import json
import pickle
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset
from torchgeo.datasets import BigEarthNet

from dtcd.bands import BandStats, MissingBandError
from dtcd.data.specs import EUROSAT_CLASSES

__all__ = [
    'GEOBENCH_TASKS',
    'GeoBench',
    'GeoBenchTask',
    'RestrictedUnpickler',
    'canonical_task',
    'find_task_dir',
    'geobench_band_to_s2',
]

Transforms = Callable[[dict[str, Tensor]], dict[str, Tensor]]
Split = Literal['train', 'val', 'test']

#: dtcd split name → GEO-Bench partition key.
PARTITION_SPLITS: dict[str, str] = {'train': 'train', 'val': 'valid', 'test': 'test'}

# Sentinel-2 band number → words one of which its GEO-Bench description must contain. Checking the
# description keeps m-so2sat's Sentinel-1 channels (also numbered) from passing as B01…B08.
_S2_DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    '01': ('coastal', 'aerosol'),
    '02': ('blue',),
    '03': ('green',),
    '04': ('red',),
    '05': ('red edge', 'rededge', 'vegetation'),
    '06': ('red edge', 'rededge', 'vegetation'),
    '07': ('red edge', 'rededge', 'vegetation'),
    '08': ('nir', 'near', 'infrared'),
    '8A': ('red edge', 'rededge', 'vegetation', 'nir', 'narrow'),
    '09': ('water', 'vapo'),
    '10': ('cirrus', 'swir'),
    '11': ('swir',),
    '12': ('swir',),
}
_AERIAL_COLOURS: dict[str, str] = {
    'red': 'B04',
    'green': 'B03',
    'blue': 'B02',
    'nearinfrared': 'B08',
    'nir': 'B08',
}
_NUMBERED = re.compile(r'^\s*(\d{1,2}A?)\s*-\s*(.+)$', re.IGNORECASE)
_PLAIN = re.compile(r'^B?(\d{1,2}A?)$', re.IGNORECASE)


def geobench_band_to_s2(name: str) -> str | None:
    """dtcd's Sentinel-2 name of a GEO-Bench band name, or ``None`` for non-Sentinel-2 bands."""
    squashed = re.sub(r'[\s_-]', '', name).lower()
    if squashed in _AERIAL_COLOURS:
        return _AERIAL_COLOURS[squashed]
    if match := _NUMBERED.match(name):
        code, description = match.group(1).upper().zfill(2), match.group(2).lower()
        code = '8A' if code == '08A' else code
        words = _S2_DESCRIPTIONS.get(code, ())
        return f'B{code}' if any(word in description for word in words) else None
    if match := _PLAIN.match(name.strip()):
        code = match.group(1).upper().zfill(2)
        code = '8A' if code == '08A' else code
        return f'B{code}' if code in _S2_DESCRIPTIONS else None
    return None


class _Inert:
    """Stand-in for a class the restricted unpickler will not build: keeps args and state only."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _Inert:
        obj = super().__new__(cls)
        obj.__dict__['args'] = args
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.__dict__['state'] = state


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles plain data only; any other class becomes an inert :class:`_Inert` subclass.

    GEO-Bench stores per-sample metadata as a pickle of geobench objects. This reader needs no
    geobench install and runs no code a file names, apart from the allow-listed builders below.
    """

    ALLOWED: frozenset[tuple[str, str]] = frozenset(
        {
            ('builtins', 'set'),
            ('builtins', 'frozenset'),
            ('builtins', 'complex'),
            ('builtins', 'slice'),
            ('builtins', 'object'),
            ('copyreg', '_reconstructor'),
            ('datetime', 'date'),
            ('datetime', 'datetime'),
            ('datetime', 'timedelta'),
            ('numpy', 'dtype'),
            ('numpy', 'ndarray'),
            ('numpy.core.multiarray', '_reconstruct'),
            ('numpy.core.multiarray', 'scalar'),
            ('numpy._core.multiarray', '_reconstruct'),
            ('numpy._core.multiarray', 'scalar'),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        """The allow-listed class, else a named inert placeholder."""
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        return type(name, (_Inert,), {'__module__': f'inert.{module}'})


def _sample_attrs(file: h5py.File) -> dict[str, Any]:
    """The file's attributes, with GEO-Bench's pickled ``attrs['pickle']`` dict merged in."""
    attrs: dict[str, Any] = {key: file.attrs[key] for key in file.attrs if key != 'pickle'}
    if 'pickle' in file.attrs:
        raw = file.attrs['pickle']
        if not (isinstance(raw, str) and raw.startswith(("b'", 'b"'))):
            raise ValueError(
                f"{file.filename}: attrs['pickle'] should be the text of a bytes literal "
                f'(str(pickle.dumps(...))), got {type(raw).__name__} {str(raw)[:40]!r}.'
            )
        loaded = RestrictedUnpickler(io.BytesIO(ast.literal_eval(raw))).load()
        if isinstance(loaded, Mapping):
            attrs.update(loaded)
    return attrs


@dataclass(frozen=True)
class GeoBenchTask:
    """What dtcd needs to know of a GEO-Bench task, in place of ``task_specs.pkl``.

    Attributes:
        kind: ``'multiclass'``, ``'multilabel'`` or ``'segmentation'``.
        classes: Class names, index = label.
        input_size: The paper's input size for the task (PAPER.md §3.1).
        benchmark: ``'classification'`` or ``'segmentation'`` (the ``<benchmark>_v1.0`` folder).
    """

    kind: Literal['multiclass', 'multilabel', 'segmentation']
    classes: tuple[str, ...]
    input_size: int
    benchmark: Literal['classification', 'segmentation']


#: The tasks the paper evaluates, under their published folder names (geo-bench's own
#: ``DISPLAY_NAMES`` and downloads). Class orders follow the source datasets (TorchGeo's lists where
#: TorchGeo has the dataset); names are labels for plots only, the integers come from the files.
GEOBENCH_TASKS: dict[str, GeoBenchTask] = {
    'm-eurosat': GeoBenchTask('multiclass', EUROSAT_CLASSES, 64, 'classification'),
    'm-so2sat': GeoBenchTask(
        'multiclass',
        (
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
        ),
        32,
        'classification',
    ),
    'm-bigearthnet': GeoBenchTask(
        'multilabel', tuple(BigEarthNet.class_sets[43]), 120, 'classification'
    ),
    'm-cashew-plant': GeoBenchTask(
        'segmentation',
        (
            'No data',
            'Well-managed plantation',
            'Poorly-managed plantation',
            'Non-plantation',
            'Residential',
            'Background',
            'Uncertain',
        ),
        256,
        'segmentation',
    ),
    'm-SA-crop-type': GeoBenchTask(
        'segmentation',
        (
            'No data',
            'Lucerne/Medics',
            'Planted pastures (perennial)',
            'Fallow',
            'Wine grapes',
            'Weeds',
            'Small grain grazing',
            'Wheat',
            'Canola',
            'Rooibos',
        ),
        256,
        'segmentation',
    ),
    'm-chesapeake': GeoBenchTask(
        'segmentation',
        (
            'Water',
            'Tree canopy / forest',
            'Low vegetation / field',
            'Barren land',
            'Impervious (other)',
            'Impervious (road)',
            'No data',
        ),
        256,
        'segmentation',
    ),
    'm-pv4ger-seg': GeoBenchTask(
        'segmentation', ('background', 'solar panel'), 320, 'segmentation'
    ),
    'm-nz-cattle': GeoBenchTask('segmentation', ('background', 'cattle'), 500, 'segmentation'),
}


#: Longer names of two tasks (the source datasets' names) → the published folder names.
TASK_ALIASES: dict[str, str] = {
    'm-cashew-plantation': 'm-cashew-plant',
    'm-chesapeake-landcover': 'm-chesapeake',
}

#: Where GEO-Bench v1.0 is published (the repository geo-bench's own download script reads).
GEOBENCH_URL = 'https://huggingface.co/datasets/recursix/geo-bench-1.0'

# geo-bench appends ``_<date>`` to the HDF5 name of a dated band (``Band.get_descriptor``).
_DATE_SUFFIX = re.compile(r'_\d{4}-\d{2}-\d{2}(_[\w-]*)?$')


def canonical_task(task: str) -> str:
    """The published name of ``task`` (an alias such as ``m-cashew-plantation`` is accepted).

    Raises:
        ValueError: For a task dtcd does not know, listing those it does.
    """
    task = TASK_ALIASES.get(task, task)
    if task not in GEOBENCH_TASKS:
        raise ValueError(
            f'Unknown GEO-Bench task {task!r}; dtcd knows {list(GEOBENCH_TASKS)} '
            f'(aliases: {TASK_ALIASES}).'
        )
    return task


def undated(key: str) -> str:
    """An HDF5 band name without geo-bench's ``_<YYYY-MM-DD>`` date suffix."""
    return _DATE_SUFFIX.sub('', key)


def find_task_dir(root: str | Path, task: str) -> Path:
    """The folder of ``task``: ``root`` itself, or ``root/<benchmark>_v*/<task>``.

    The published folder name is looked for first, then its aliases.

    Raises:
        FileNotFoundError: Saying where GEO-Bench is published, the layout expected, and what
            ``root`` holds.
    """
    root = Path(root)
    names = [task, *(alias for alias, name in TASK_ALIASES.items() if name == task)]
    if root.name in names and (root / 'band_stats.json').is_file():
        return root
    found = []
    for name in names:
        found = sorted(p for p in root.glob(f'*/{name}') if p.is_dir())
        if found:
            break
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise FileNotFoundError(f'GEO-Bench task {task!r} found twice under {root}: {found}.')
    present = sorted(p.name for p in root.iterdir())[:20] if root.is_dir() else None
    raise FileNotFoundError(
        f'GEO-Bench task {task!r} not found under {root} '
        f'({"it does not exist" if present is None else f"it holds {present}"}). '
        f'dtcd expects <root>/{GEOBENCH_TASKS[task].benchmark}_v1.0/{task}/ '
        '(or root = that folder) with <id>.hdf5 samples, band_stats.json and '
        f'<name>_partition.json files, as GEO-Bench publishes them ({GEOBENCH_URL}, '
        'fetched by `geobench-download`).'
    )


class GeoBench(Dataset[dict[str, Tensor]]):
    """One split of one GEO-Bench task: ``{'image': float32 [C, H, W], 'label' | 'mask'}``.

    ``image`` holds the task's Sentinel-2 (or aerial RGB(N)) bands in the order of
    ``band_stats.json``, named by :attr:`bands` in dtcd's names. ``label`` is int64 (multi-class)
    or a float32 multi-hot vector (multi-label); ``mask`` is int64 ``[H, W]``.
    """

    def __init__(
        self,
        root: str | Path,
        task: str,
        split: Split = 'train',
        partition: str = 'default',
        transforms: Transforms | None = None,
    ) -> None:
        """Index one split of a partition.

        Args:
            root: GEO-Bench root (holding ``classification_v1.0/`` …) or the task folder.
            task: Task name, a key of :data:`GEOBENCH_TASKS` (e.g. ``'m-eurosat'``) or an alias.
            split: ``'train'``, ``'val'`` (GEO-Bench's ``valid``) or ``'test'``.
            partition: Partition name: ``'default'``, ``'0.10x_train'``, … (file
                ``<partition>_partition.json``).
            transforms: Applied to each sample dict.

        Raises:
            FileNotFoundError: For a missing task folder, statistics, partition or sample file.
            ValueError: For an unknown task or split, or a partition without the split.
        """
        task = canonical_task(task)
        if split not in PARTITION_SPLITS:
            raise ValueError(f'split must be one of {list(PARTITION_SPLITS)}, got {split!r}.')
        self.spec = GEOBENCH_TASKS[task]
        self.task, self.split, self.partition = task, split, partition
        self.transforms = transforms
        self.directory = find_task_dir(root, task)
        stats_path = self.directory / 'band_stats.json'
        if not stats_path.is_file():
            raise FileNotFoundError(
                f'{stats_path} is missing; GEO-Bench tasks ship per-band statistics there.'
            )
        self._raw_stats: dict[str, dict[str, float]] = json.loads(stats_path.read_text())
        self.files = [self.directory / f'{i}.hdf5' for i in self._partition_ids()]
        missing = [f.name for f in self.files if not f.is_file()]
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} sample file(s) of partition {partition!r} split '
                f'{PARTITION_SPLITS[split]!r} are missing from {self.directory}, '
                f'e.g. {missing[:5]}.'
            )

    @cached_property
    def source_bands(self) -> dict[str, str]:
        """dtcd band name → GEO-Bench band name, in ``band_stats.json`` order."""
        mapping: dict[str, str] = {}
        for name in self._raw_stats:
            s2 = geobench_band_to_s2(name)
            if s2 is not None:
                mapping.setdefault(s2, name)
        if not mapping:
            raise MissingBandError(
                f'No Sentinel-2 or RGB band among {list(self._raw_stats)} in '
                f'{self.directory / "band_stats.json"}.'
            )
        return mapping

    @property
    def bands(self) -> tuple[str, ...]:
        """The dtcd names of the image channels."""
        return tuple(self.source_bands)

    @property
    def stats(self) -> BandStats:
        """The published mean and std of each band, keyed by dtcd name."""
        raw = self._raw_stats
        return BandStats(
            {b: float(raw[n]['mean']) for b, n in self.source_bands.items()},
            {b: float(raw[n]['std']) for b, n in self.source_bands.items()},
        )

    def _partition_ids(self) -> list[str]:
        path = self.directory / f'{self.partition}_partition.json'
        if not path.is_file():
            found = sorted(
                p.name.removesuffix('_partition.json')
                for p in self.directory.glob('*_partition.json')
            )
            raise FileNotFoundError(f'{path} is missing; partitions found: {found}.')
        partition = json.loads(path.read_text())
        key = PARTITION_SPLITS[self.split]
        if key not in partition:
            raise ValueError(f'{path} has no {key!r} split, only {list(partition)}.')
        return [str(i).removesuffix('.hdf5') for i in partition[key]]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """Read one ``.hdf5`` sample."""
        path = self.files[index]
        with h5py.File(path, 'r') as file:
            keys = _keys_by_undated_name(file, path)
            missing = [n for n in self.source_bands.values() if n not in keys]
            if missing:
                raise MissingBandError(f'{path} lacks band(s) {missing}; it holds {list(file)}.')
            planes = [
                np.asarray(file[keys[n]], dtype=np.float32) for n in self.source_bands.values()
            ]
            if len({p.shape for p in planes}) != 1:
                shapes = {
                    n: p.shape for n, p in zip(self.source_bands.values(), planes, strict=True)
                }
                raise ValueError(f'{path}: bands differ in size, {shapes}.')
            sample = {'image': torch.from_numpy(np.stack(planes))}
            if self.spec.kind == 'segmentation':
                sample['mask'] = self._mask(file, path)
            else:
                sample['label'] = self._label(_sample_attrs(file).get('label'), path)
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    @staticmethod
    def _mask(file: h5py.File, path: Path) -> Tensor:
        names = [n for n in file if undated(n).lower().startswith('label')]
        if len(names) != 1:
            raise ValueError(
                f'{path}: expected one mask dataset named label*, found {names} among {list(file)}.'
            )
        mask = np.asarray(file[names[0]]).squeeze()
        return torch.from_numpy(mask.astype(np.int64))

    def _label(self, label: Any, path: Path) -> Tensor:
        if label is None:
            raise ValueError(
                f"{path}: no classification label (looked in attrs['pickle']['label'] and "
                f"attrs['label'])."
            )
        value = np.asarray(label)
        if self.spec.kind == 'multiclass':
            if value.size != 1:
                raise ValueError(f'{path}: multi-class label should be one integer, got {label}.')
            return torch.tensor(int(value.reshape(())), dtype=torch.int64)
        count = len(self.spec.classes)
        if value.shape != (count,):
            raise ValueError(
                f'{path}: multi-label label should be a {count}-long multi-hot vector, '
                f'got shape {value.shape}.'
            )
        return torch.from_numpy(value.astype(np.float32))


def _keys_by_undated_name(file: h5py.File, path: Path) -> dict[str, str]:
    """Undated band name → the sample's HDF5 key; one date per band (GEO-Bench v1.0 tasks)."""
    keys: dict[str, str] = {}
    for key in file:
        name = undated(key)
        if name in keys:
            raise ValueError(
                f'{path} holds band {name!r} on several dates ({keys[name]!r}, {key!r}); dtcd '
                'reads single-date GEO-Bench samples.'
            )
        keys[name] = key
    return keys
