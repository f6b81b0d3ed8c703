"""Data: SynthEO generation and the dataset classes TorchGeo lacks."""

from dtcd.data.datasets import DEOHDF5, PairedMSRGB, SynthEOSegmentation
from dtcd.data.specs import EUROSAT_CLASSES, LAND_COVER_CLASSES
from dtcd.data.synthetic import (
    MATERIALS,
    PRESETS,
    RGB_TWINS,
    Preset,
    SynthEOSummary,
    generate,
)

__all__ = [
    'DEOHDF5',
    'EUROSAT_CLASSES',
    'LAND_COVER_CLASSES',
    'MATERIALS',
    'PRESETS',
    'RGB_TWINS',
    'PairedMSRGB',
    'Preset',
    'SynthEOSegmentation',
    'SynthEOSummary',
    'generate',
]
