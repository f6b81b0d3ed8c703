"""Random-number-generator state in checkpoints, so a resumed run draws what the original would.

Multi-crop parameters, masks and the loader's shuffling all come from the global generators;
Lightning checkpoints do not hold their state. Each rank's state is kept (ranks draw different
crops), gathered when the checkpoint is written and handed back to the same rank on resume.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

#: Where checkpoints keep every rank's generator states.
CHECKPOINT_KEY = 'dtcd_rng_states'


def capture() -> dict[str, Any]:
    """The global Python, NumPy, torch CPU (and CUDA) generator states of this process.

    Only tensors and plain Python values, so ``torch.load(weights_only=True)`` reads them.
    """
    kind, key, position, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        'python': random.getstate(),
        'numpy': (kind, torch.from_numpy(key.astype(np.int64)), position, has_gauss, gauss),
        'torch': torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def gather() -> list[dict[str, Any]]:
    """Every rank's :func:`capture`, in rank order (collective: all ranks must call it)."""
    state = capture()
    if not (dist.is_available() and dist.is_initialized()):
        return [state]
    states: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(states, state)
    return states


def restore(states: list[dict[str, Any]], rank: int) -> None:
    """Set this process's generators from ``states[rank]`` (wrapping if ranks were added)."""
    state = states[rank % len(states)]
    random.setstate(state['python'])
    kind, key, position, has_gauss, gauss = state['numpy']
    np.random.set_state((kind, key.numpy().astype(np.uint32), position, has_gauss, gauss))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def offset_by_rank(rank: int) -> None:
    """Reseed the global generators with ``initial seed + rank``, as DINO does per process.

    Lightning's ``seed_everything`` gives every rank the same seed, so without this each rank
    would draw the same crop boxes, flips and masks for its different images.
    """
    seed = (torch.initial_seed() + rank) % 2**32
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
