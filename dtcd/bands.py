"""Sentinel-2 band registry: bands are named, never positional.

Every dataset declares the names of its bands and every model stem declares the names it expects;
:func:`reindex` moves a tensor from one list to the other by name. Datasets disagree on band order
(EuroSAT stores B8A last, OSCD right after B08, DEO puts R, G, B first), so positions are never
trusted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    'BAND_ALIASES',
    'BAND_SETS',
    'DEO10',
    'DEO_HDF5_13',
    'EUROSAT13',
    'FMOW_SENTINEL_DEO10',
    'RGB',
    'S2_BANDS',
    'S2_L1C_13',
    'S2_L2A_12',
    'SENTINEL2_DN',
    'Band',
    'BandStats',
    'MissingBandError',
    'band_indices',
    'canonical_bands',
    'normalize',
    'reindex',
    'resolve_bands',
    'select_bands',
]


@dataclass(frozen=True)
class Band:
    """One Sentinel-2 MSI band.

    Attributes:
        name: Canonical name, e.g. ``'B8A'``.
        center_nm: Central wavelength in nanometres (Sentinel-2A).
        gsd_m: Ground sampling distance in metres.
        description: What the band is for.
    """

    name: str
    center_nm: float
    gsd_m: int
    description: str


S2_BANDS: dict[str, Band] = {
    band.name: band
    for band in (
        Band('B01', 442.7, 60, 'coastal aerosol'),
        Band('B02', 492.4, 10, 'blue'),
        Band('B03', 559.8, 10, 'green'),
        Band('B04', 664.6, 10, 'red'),
        Band('B05', 704.1, 20, 'red edge 1'),
        Band('B06', 740.5, 20, 'red edge 2'),
        Band('B07', 782.8, 20, 'red edge 3'),
        Band('B08', 832.8, 10, 'near infrared'),
        Band('B8A', 864.7, 20, 'narrow near infrared'),
        Band('B09', 945.1, 60, 'water vapour'),
        Band('B10', 1373.5, 60, 'short-wave infrared cirrus'),
        Band('B11', 1613.7, 20, 'short-wave infrared 1'),
        Band('B12', 2202.4, 20, 'short-wave infrared 2'),
    )
}

#: Level-1C product order (13 bands, B8A after B08), as in OSCD and SSL4EO-S12 L1C.
S2_L1C_13: tuple[str, ...] = tuple(S2_BANDS)
#: Level-2A product order (12 bands: the cirrus band B10 is not delivered).
S2_L2A_12: tuple[str, ...] = tuple(b for b in S2_L1C_13 if b != 'B10')
#: EuroSAT's file order: B01..B12, then B8A last.
EUROSAT13: tuple[str, ...] = (*(b for b in S2_L1C_13 if b != 'B8A'), 'B8A')
#: The DEO student's 10 bands in its channel order: R, G, B first, 60 m bands dropped.
DEO10: tuple[str, ...] = ('B04', 'B03', 'B02', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B11', 'B12')
#: True-colour RGB.
RGB: tuple[str, ...] = ('B04', 'B03', 'B02')
#: The channels of the DEO authors' fMoW-Sentinel HDF5 file as their code names them: their loader
#: takes file channels [1, 2, 3, 4, 5, 6, 7, 8, 11, 12] and their model calls those R, G, B, B05,
#: ..., B12 (PAPER.md §2.7), so channels 1 and 3 are named B04 and B02 here. ``DEO10`` read from
#: this order is exactly the authors' input, which their released weights expect (in an L1C-ordered
#: file, what they call red is stored where L1C keeps B02).
DEO_HDF5_13: tuple[str, ...] = (
    'B01', 'B04', 'B03', 'B02', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B10', 'B11', 'B12'
)  # fmt: skip

BAND_SETS: dict[str, tuple[str, ...]] = {
    's2_l1c': S2_L1C_13,
    's2_l2a': S2_L2A_12,
    'eurosat13': EUROSAT13,
    'deo10': DEO10,
    'deo_hdf5': DEO_HDF5_13,
    'rgb': RGB,
}


#: Other spellings of Sentinel-2 bands, to their names here: TerraTorch's vocabulary
#: (``HLSBands`` / ``OpticalBands`` values) and the unpadded ``B1``..``B9``, ``B8a`` that PANGAEA's
#: and TorchGeo's configs write.
BAND_ALIASES: dict[str, str] = {
    'COASTAL_AEROSOL': 'B01',
    'BLUE': 'B02',
    'GREEN': 'B03',
    'RED': 'B04',
    'RED_EDGE_1': 'B05',
    'RED_EDGE_2': 'B06',
    'RED_EDGE_3': 'B07',
    'NIR_BROAD': 'B08',
    'NIR_NARROW': 'B8A',
    'WATER_VAPOR': 'B09',
    'CIRRUS': 'B10',
    'SWIR_1': 'B11',
    'SWIR_2': 'B12',
    **{f'B{i}': f'B{i:02d}' for i in range(1, 10)},
    'B8a': 'B8A',
}


class MissingBandError(ValueError):
    """A band a model or transform needs is absent from the data."""


def resolve_bands(bands: str | Sequence[str]) -> tuple[str, ...]:
    """Turn a band-set name (``'deo10'``) or a list of band names into a validated tuple.

    Raises:
        ValueError: For an unknown set name, an unknown band name, or a duplicated band.
    """
    if isinstance(bands, str):
        key = bands.lower()
        if key not in BAND_SETS:
            raise ValueError(
                f'Unknown band set {bands!r}; choose one of {sorted(BAND_SETS)} '
                'or give an explicit list of band names such as ["B04", "B03", "B02"].'
            )
        return BAND_SETS[key]
    names = tuple(bands)
    unknown = [b for b in names if b not in S2_BANDS]
    if unknown:
        raise ValueError(f'Unknown band name(s) {unknown}; Sentinel-2 bands are {list(S2_BANDS)}.')
    duplicated = sorted({b for b in names if names.count(b) > 1})
    if duplicated:
        raise ValueError(f'Band(s) {duplicated} listed more than once in {list(names)}.')
    return names


def canonical_bands(bands: Sequence[object]) -> tuple[str, ...]:
    """Band names in any spelling of :data:`BAND_ALIASES` (strings, or enums such as TerraTorch's
    ``HLSBands`` by their value), as the names here, validated by :func:`resolve_bands`."""
    names = [str(getattr(band, 'value', band)) for band in bands]
    unknown = [n for n in names if n not in S2_BANDS and n not in BAND_ALIASES]
    if unknown:
        raise ValueError(
            f'Unknown band name(s) {unknown}; use Sentinel-2 names {list(S2_BANDS)} or '
            f"TerraTorch's {[a for a in BAND_ALIASES if not a.startswith('B')]}."
        )
    return resolve_bands([BAND_ALIASES.get(name, name) for name in names])


def band_indices(source: Sequence[str], target: Sequence[str]) -> list[int]:
    """Positions in ``source`` of each band of ``target``.

    Raises:
        MissingBandError: Naming every band of ``target`` that ``source`` lacks.
    """
    position = {name: i for i, name in enumerate(source)}
    missing = [b for b in target if b not in position]
    if missing:
        raise MissingBandError(
            f'Band(s) {missing} are required but the data only has {list(source)}. '
            'Use a dataset that provides them, or a model stem whose band list omits them.'
        )
    return [position[b] for b in target]


def reindex(x: Tensor, source: Sequence[str], target: Sequence[str], dim: int = -3) -> Tensor:
    """Select and reorder the bands of ``x`` (band axis ``dim``) from ``source`` to ``target``.

    ``dim=-3`` fits ``[C, H, W]``, ``[B, C, H, W]`` and ``[B, T, C, H, W]`` alike.
    """
    if x.shape[dim] != len(source):
        raise ValueError(
            f'Tensor has {x.shape[dim]} bands on axis {dim} but its band list names '
            f'{len(source)}: {list(source)}.'
        )
    indices = band_indices(source, target)
    if indices == list(range(len(source))):
        return x
    return x.index_select(dim, torch.tensor(indices, device=x.device))


def select_bands(x: Tensor, source: Sequence[str], target: Sequence[str]) -> Tensor:
    """:func:`reindex` on dim 1, as a view when the bands are consecutive (RGB first in DEO10).

    Avoids the band copy and the index tensor built per call, a blocking host-to-device copy on
    CUDA.
    """
    indices = band_indices(source, target)
    start = indices[0]
    if indices == list(range(start, start + len(indices))):
        return x[:, start : start + len(indices)]
    return reindex(x, source, target, dim=1)


@dataclass(frozen=True)
class BandStats:
    """Per-band normalisation statistics keyed by band name.

    Attributes:
        mean: Band name to mean, in the units of the data the statistics were computed on.
        std: Band name to standard deviation.
    """

    mean: Mapping[str, float]
    std: Mapping[str, float]

    @classmethod
    def from_lists(
        cls, bands: Sequence[str], mean: Sequence[float], std: Sequence[float]
    ) -> BandStats:
        """Statistics published as two lists in the order of ``bands``."""
        return cls(dict(zip(bands, mean, strict=True)), dict(zip(bands, std, strict=True)))

    def tensors(self, bands: Sequence[str]) -> tuple[Tensor, Tensor]:
        """Mean and std as float tensors in the order of ``bands``, in raw data units."""
        missing = [b for b in bands if b not in self.mean or b not in self.std]
        if missing:
            raise MissingBandError(
                f'No normalisation statistics for band(s) {missing}; '
                f'these statistics cover {list(self.mean)}.'
            )
        mean = torch.tensor([self.mean[b] for b in bands], dtype=torch.float32)
        std = torch.tensor([self.std[b] for b in bands], dtype=torch.float32)
        return mean, std


def normalize(x: Tensor, bands: Sequence[str], stats: BandStats, dim: int = -3) -> Tensor:
    """Standardise each band of ``x`` with ``stats`` (band axis ``dim``)."""
    mean, std = stats.tensors(bands)
    shape = [1] * x.ndim
    shape[dim] = len(bands)
    mean = mean.to(x.device).view(shape)
    std = std.to(x.device).view(shape)
    return (x.float() - mean) / std


#: The statistics the DEO authors normalise with (PAPER.md §2.8). The RGB entries are those of the
#: high-resolution RGB scaled to [0, 1]; the other bands are fMoW-Sentinel statistics in Sentinel-2
#: digital numbers (reflectance × 10000).
FMOW_SENTINEL_DEO10 = BandStats(
    mean={
        'B04': 0.4182,
        'B03': 0.4215,
        'B02': 0.3991,
        'B05': 1263.74,
        'B06': 1645.40,
        'B07': 1846.87,
        'B08': 1762.60,
        'B8A': 1972.62,
        'B11': 1732.16,
        'B12': 1247.92,
    },
    std={
        'B04': 0.2877,
        'B03': 0.2754,
        'B02': 0.2764,
        'B05': 948.98,
        'B06': 1108.07,
        'B07': 1258.36,
        'B08': 1233.15,
        'B8A': 1364.39,
        'B11': 1310.37,
        'B12': 1087.60,
    },
)

#: Generic Sentinel-2 L1C statistics in digital numbers: the per-band means and standard
#: deviations TorchGeo's EuroSAT datamodule uses (computed on EuroSAT, all 13 bands).
SENTINEL2_DN = BandStats(
    mean={
        'B01': 1354.40546513,
        'B02': 1118.24399958,
        'B03': 1042.92983953,
        'B04': 947.62620298,
        'B05': 1199.47283961,
        'B06': 1999.79090914,
        'B07': 2369.22292565,
        'B08': 2296.82608323,
        'B8A': 2594.14080798,
        'B09': 732.08340178,
        'B10': 12.11327804,
        'B11': 1819.01027855,
        'B12': 1118.92391149,
    },
    std={
        'B01': 245.71762908,
        'B02': 333.00778264,
        'B03': 395.09249139,
        'B04': 593.75055589,
        'B05': 566.4170017,
        'B06': 861.18399006,
        'B07': 1086.63139075,
        'B08': 1117.98170791,
        'B8A': 1231.58581042,
        'B09': 404.91978886,
        'B10': 4.77584468,
        'B11': 1002.58768311,
        'B12': 761.30323499,
    },
)
