"""Presets and :func:`generate`, which writes SynthEO's four datasets and summarises them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from dtcd.data.synthetic.writers import (
    DatasetSummary,
    _eurosat,
    _oscd,
    _pretrain,
    _segmentation,
)


@dataclass(frozen=True)
class SynthEOSummary:
    """The result of :func:`generate`: where, what, and how long it took."""

    root: Path
    preset: str
    seed: int
    seconds: float
    datasets: tuple[DatasetSummary, ...] = field(default_factory=tuple)

    def format(self) -> str:
        head = (
            f'SynthEO preset {self.preset!r}, seed {self.seed}: {self.root} ({self.seconds:.1f} s)'
        )
        return '\n'.join([head, *(d.format() for d in self.datasets)])


@dataclass(frozen=True)
class Preset:
    """Sizes of one SynthEO generation.

    Attributes:
        eurosat_per_class: EuroSAT images per class (split 60/20/20).
        oscd_regions: OSCD regions per split.
        oscd_size: OSCD region side in 10 m pixels.
        segmentation_tiles: Segmentation tiles in all (split 60/20/20).
        segmentation_size: Segmentation tile side in pixels.
        pretrain_tiles: Paired MS + HR RGB tiles.
        pretrain_size: Pretraining tile side in 10 m pixels.
    """

    eurosat_per_class: int
    oscd_regions: dict[str, int]
    oscd_size: int
    segmentation_tiles: int
    segmentation_size: int
    pretrain_tiles: int
    pretrain_size: int

    def __post_init__(self) -> None:
        if min(self.eurosat_per_class, self.segmentation_tiles) < 3:
            raise ValueError('EuroSAT classes and segmentation need >= 3 items: one per split.')


PRESETS: dict[str, Preset] = {
    'tiny': Preset(
        eurosat_per_class=20,
        oscd_regions={'train': 2, 'test': 1},
        oscd_size=96,
        segmentation_tiles=24,
        segmentation_size=64,
        pretrain_tiles=32,
        pretrain_size=64,
    ),
    'demo': Preset(
        eurosat_per_class=100,
        oscd_regions={'train': 6, 'test': 2},
        oscd_size=192,
        segmentation_tiles=200,
        segmentation_size=64,
        pretrain_tiles=600,
        pretrain_size=96,
    ),
}


def generate(out_dir: Path | str, preset: str | Preset = 'tiny', seed: int = 0) -> SynthEOSummary:
    """Write SynthEO's four datasets under ``out_dir`` (layouts: :mod:`dtcd.data.synthetic`).

    Args:
        out_dir: Output directory; created if missing, existing files are overwritten.
        preset: A key of :data:`PRESETS`, or a :class:`Preset` of one's own.
        seed: A non-negative integer. Same seed, same bytes; another seed, other scenes.
    """
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f'Unknown SynthEO preset {preset!r}; choose one of {sorted(PRESETS)}.')
        name, p = preset, PRESETS[preset]
    else:
        name, p = 'custom', preset
    root = Path(out_dir)
    start = time.perf_counter()
    datasets = (
        _eurosat(root / 'eurosat', seed, p.eurosat_per_class),
        _oscd(root / 'oscd', seed, p.oscd_regions, p.oscd_size),
        _segmentation(root / 'segmentation', seed, p.segmentation_tiles, p.segmentation_size),
        _pretrain(root / 'pretrain', seed, p.pretrain_tiles, p.pretrain_size),
    )
    return SynthEOSummary(root, name, seed, time.perf_counter() - start, datasets)
