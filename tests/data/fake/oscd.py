"""Fake OSCD in the real layout TorchGeo's ``OSCD`` reads, regions of different sizes.

``Onera Satellite Change Detection dataset - Images/<region>/imgs_{1,2}_rect/<band>.tif`` (13
uncompressed uint16 single-band GeoTIFFs per date), ``<region>/dates.txt``, ``{train,test}.txt``;
``Onera Satellite Change Detection dataset - {Train,Test} Labels/<region>/cm/cm.png`` (8-bit,
255 = change).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from dtcd.bands import S2_L1C_13
from tests.data.fake.codes import coded, write_tif

IMAGES = 'Onera Satellite Change Detection dataset - Images'
#: Region name to (height, width); real OSCD regions are several hundred pixels.
REGIONS = {
    'train': {
        'abudhabi': (40, 48),
        'aguasclaras': (44, 40),
        'beihai': (48, 52),
        'beirut': (40, 40),
        'bercy': (36, 44),
    },
    'test': {'brasilia': (40, 36), 'chongqing': (44, 48)},
}


def write(root: Path, seed: int = 0) -> Path:
    """Write the fake OSCD under ``root`` and return ``root``."""
    rng = np.random.default_rng(seed)
    images = root / IMAGES
    for split, regions in REGIONS.items():
        labels = root / f'Onera Satellite Change Detection dataset - {split.capitalize()} Labels'
        for region, shape in regions.items():
            for date in (1, 2):
                for band in S2_L1C_13:
                    path = images / region / f'imgs_{date}_rect' / f'{band}.tif'
                    write_tif(path, coded(rng, band, shape), compress=False)
            (images / region / 'dates.txt').write_text('date_1: 20151204\ndate_2: 20171028\n')
            change = np.zeros(shape, np.uint8)
            change[: shape[0] // 2, : shape[1] // 3] = 255
            (labels / region / 'cm').mkdir(parents=True, exist_ok=True)
            Image.fromarray(change).save(labels / region / 'cm' / 'cm.png')
        (images / f'{split}.txt').write_text(','.join(regions) + '\n')
    return root
