"""Training monitors: collapse indicators of embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def embedding_std(features: Tensor) -> Tensor:
    """Mean per-dimension std of L2-normalised ``[N, D]`` embeddings.

    About ``1/sqrt(D)`` for well-spread embeddings, 0 at complete collapse (TorchGeo's MoCo
    and lightly monitor the same quantity).
    """
    return F.normalize(features.float(), dim=-1).std(dim=0).mean()


def effective_rank(features: Tensor) -> Tensor:
    """RankMe effective rank: ``exp`` of the entropy of the normalised singular values."""
    singular = torch.linalg.svdvals(features.float() - features.float().mean(dim=0))
    p = singular / singular.sum().clamp_min(1e-12) + 1e-12
    return torch.exp(-(p * p.log()).sum())
