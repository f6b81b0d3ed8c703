"""Fake BigEarthNet v1 (Sentinel-2) in the real layout TorchGeo's ``BigEarthNet`` reads.

``BigEarthNet-v1.0/<patch>/<patch>_<band>.tif``: one uint16 GeoTIFF per band at its native
resolution (10 m bands 120 px, 20 m 60 px, 60 m 20 px); ``<patch>_labels_metadata.json`` with
CORINE label names; ``bigearthnet-{train,val,test}.csv`` with ``<S2 patch>,<S1 patch>`` lines.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dtcd.bands import S2_BANDS, S2_L2A_12
from tests.data.fake.codes import coded, write_tif

PATCHES = {'train': 4, 'val': 2, 'test': 2}
SIZE_BY_GSD = {10: 120, 20: 60, 60: 20}
#: Label names per patch, cycled (43-class CORINE names).
LABELS = (
    ['Mixed forest', 'Water bodies'],
    ['Non-irrigated arable land'],
    ['Discontinuous urban fabric', 'Pastures', 'Coniferous forest'],
)


def patch_names(index: int) -> tuple[str, str]:
    """Sentinel-2 and Sentinel-1 patch names in the archive's naming scheme."""
    row, col = divmod(index, 10)
    return (
        f'S2A_MSIL2A_20170613T101031_{row}_{col}',
        f'S1A_IW_GRDH_1SDV_20170613T165043_33UUP_{row}_{col}',
    )


def write(root: Path, seed: int = 0) -> Path:
    """Write the fake BigEarthNet under ``root`` and return ``root``."""
    rng = np.random.default_rng(seed)
    index = 0
    for split, count in PATCHES.items():
        lines = []
        for _ in range(count):
            s2, s1 = patch_names(index)
            folder = root / 'BigEarthNet-v1.0' / s2
            for band in S2_L2A_12:
                gsd = S2_BANDS[band].gsd_m
                size = SIZE_BY_GSD[gsd]
                write_tif(folder / f'{s2}_{band}.tif', coded(rng, band, (size, size)), gsd)
            metadata = {
                'labels': LABELS[index % len(LABELS)],
                'coordinates': {'ulx': 500000, 'uly': 5000000, 'lrx': 501200, 'lry': 4998800},
                'projection': 'PROJCS["WGS 84 / UTM zone 32N"]',
                'tile_source': 'S2A_MSIL1C_20170613T101031_N0205_R022_T32UPU_20170613T101032',
                'acquisition_date': '2017-06-13 10:10:31',
            }
            (folder / f'{s2}_labels_metadata.json').write_text(json.dumps(metadata))
            lines.append(f'{s2},{s1}\n')
            index += 1
        (root / f'bigearthnet-{split}.csv').write_text(''.join(lines))
    return root
