"""Dataset facts shared by SynthEO's generator and the readers: class lists, folders, scales.

SynthEO (:mod:`dtcd.data.synthetic`) writes the real datasets' layouts and the DataModules read
them, so both take names from here. Where TorchGeo states a fact as a constant, it is used as is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from torchgeo.datasets import OSCD, EuroSAT

__all__ = [
    'EUROSAT_BASE_DIR',
    'EUROSAT_CLASSES',
    'HR_RGB_FULL_SCALE_DN',
    'LAND_COVER_CLASSES',
    'OSCD_FOLDERS',
    'OSCD_IMAGES',
    'oscd_labels',
]

#: Digital number that an 8-bit HR RGB 255 stands for (TorchGeo's EuroSAT plots stretch to 3000):
#: SynthEO's HR RGB is written, and :class:`~dtcd.data.PairedMSRGB` reads it, on this scale.
HR_RGB_FULL_SCALE_DN = 3000.0

#: EuroSAT's class folder names, in TorchGeo's (sorted) label order. TorchGeo lists them only
#: per instance, from the folders it finds.
EUROSAT_CLASSES: tuple[str, ...] = (
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
)
#: The folder of EuroSAT's class folders, as TorchGeo's ``EuroSAT`` reads it.
EUROSAT_BASE_DIR = Path(EuroSAT.base_dir)

#: OSCD's three folders, each extracted by TorchGeo from the zip of the same name.
OSCD_FOLDERS = tuple(name.removesuffix('.zip') for name in OSCD.urls)
#: OSCD's image folder (both dates of every region).
OSCD_IMAGES = 'Onera Satellite Change Detection dataset - Images'


def oscd_labels(split: Literal['train', 'test']) -> str:
    """OSCD's change-map folder of ``split``."""
    return f'Onera Satellite Change Detection dataset - {split.capitalize()} Labels'


#: Classes of SynthEO's segmentation masks, by id.
LAND_COVER_CLASSES: tuple[str, ...] = (
    'water',
    'forest',
    'grassland',
    'cropland',
    'bare soil',
    'built-up',
    'road',
)
