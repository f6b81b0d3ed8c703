"""Scenes with the generator's truth: what a stand-in optical foundation model learns from.

No DINOv3 weights can be had offline, so :mod:`dtcd.standin_teacher` trains a small optical
teacher on SynthEO itself. It needs what no written dataset holds: the material under every HR
pixel. :func:`scenes_with_materials` paints scenes from a random stream of their own (key 5, used
by no written dataset, so the teacher never sees a pretraining or probe image) and returns each
scene's RGB as the pretraining loader gives it (HR RGB averaged to 10 m, in digital numbers) with
the share of every material in each 10 m pixel.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from dtcd.data.specs import HR_RGB_FULL_SCALE_DN
from dtcd.data.synthetic.grid import _block_mean
from dtcd.data.synthetic.materials import _NAMES
from dtcd.data.synthetic.recipes import _EUROSAT_RECIPES, _landscape
from dtcd.data.synthetic.sensor import _scene

#: The stream key of these scenes (written datasets use 0 to 4).
TRUTH_STREAM = 5
#: Number of materials, the width of the material shares.
NUM_MATERIALS = len(_NAMES)


def scenes_with_materials(
    seed: int, count: int, size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``count`` scenes of ``size`` 10 m pixels, drawn like the pretraining tiles.

    Yields:
        ``rgb``: float32 ``[3, size, size]`` B04, B03, B02 digital numbers (HR RGB at 10 m);
        ``shares``: float32 ``[NUM_MATERIALS, size, size]``, each pixel's material shares.
    """
    recipes = [*_EUROSAT_RECIPES.values(), _landscape, _landscape]
    for i in range(count):
        rng = np.random.default_rng([seed, TRUTH_STREAM, i])
        canvas, _, rgb = _scene(rng, recipes[rng.integers(len(recipes))], size)
        dn = _block_mean(rgb.transpose(2, 0, 1).astype(np.float32)) * HR_RGB_FULL_SCALE_DN / 255
        materials = canvas.material_map()
        shares = np.stack(
            [_block_mean((materials == m).astype(np.float32)) for m in range(NUM_MATERIALS)]
        )
        yield dn.astype(np.float32), shares
