"""A tiny SpaceNet 1 (labelled ``train`` split) in the layout TorchGeo's ``SpaceNet1`` reads.

``root/SN1_buildings/train/3band/3band_AOI_1_RIO_img<n>.tif`` (uint8 RGB GeoTIFF, EPSG:4326) and
``root/SN1_buildings/train/geojson/Geo_AOI_1_RIO_img<n>.geojson``. Tiles are 406 × 439, the size
TorchGeo resamples to, so footprints land on known pixels. Tile ``n`` is constant per channel:
``R, G, B = 20 n + 1, 20 n + 2, 20 n + 3``. Each footprint covers rows 100–199, columns 50–149;
tile 3 has no building (an empty FeatureCollection).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

HEIGHT, WIDTH = 406, 439
TILES = 10
#: Degrees per pixel and the tiles' north-west corner (Rio de Janeiro).
PIXEL, WEST, NORTH = 1e-5, -43.7, -22.9
BUILDING_ROWS, BUILDING_COLS = (100, 200), (50, 150)


def channel_value(tile: int, channel: int) -> int:
    """Value of every pixel of ``channel`` (0 R, 1 G, 2 B) of tile ``img<tile>``."""
    return 20 * tile + channel + 1


def write(root: Path, seed: int = 0) -> Path:
    """Write tiles ``img1`` … ``img10`` under ``root`` and return ``root``."""
    rng = np.random.default_rng(seed)
    folder = root / 'SN1_buildings' / 'train'
    (folder / '3band').mkdir(parents=True, exist_ok=True)
    (folder / 'geojson').mkdir(parents=True, exist_ok=True)
    transform = from_origin(WEST, NORTH, PIXEL, PIXEL)
    for tile in rng.permutation(np.arange(1, TILES + 1)).tolist():
        image = np.stack(
            [np.full((HEIGHT, WIDTH), channel_value(tile, c), np.uint8) for c in range(3)]
        )
        profile = {
            'driver': 'GTiff',
            'height': HEIGHT,
            'width': WIDTH,
            'count': 3,
            'dtype': 'uint8',
            'crs': 'EPSG:4326',
            'transform': transform,
        }
        with rasterio.open(
            folder / '3band' / f'3band_AOI_1_RIO_img{tile}.tif', 'w', **profile
        ) as dst:
            dst.write(image)
        (r0, r1), (c0, c1) = BUILDING_ROWS, BUILDING_COLS
        x0, x1 = WEST + c0 * PIXEL, WEST + c1 * PIXEL
        y0, y1 = NORTH - r0 * PIXEL, NORTH - r1 * PIXEL
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        features = (
            []
            if tile == 3
            else [
                {
                    'type': 'Feature',
                    'properties': {'OBJECTID': tile, 'FID': 0},
                    'geometry': {'type': 'Polygon', 'coordinates': [ring]},
                }
            ]
        )
        collection = {'type': 'FeatureCollection', 'features': features}
        (folder / 'geojson' / f'Geo_AOI_1_RIO_img{tile}.geojson').write_text(json.dumps(collection))
    return root
