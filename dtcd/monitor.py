"""Training monitors: collapse indicators and PCA pictures of patch features."""

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


def pca_image(feature_map: Tensor) -> Tensor:
    """Project ``[B, C, h, w]`` features on their top 3 principal components as RGB in [0, 1].

    Components are fitted on all tokens of the batch jointly, so colours are comparable across
    images; each channel is min-max scaled.
    """
    batch, channels, height, width = feature_map.shape
    tokens = feature_map.float().permute(0, 2, 3, 1).reshape(-1, channels)
    tokens = tokens - tokens.mean(dim=0)
    _, _, components = torch.linalg.svd(tokens, full_matrices=False)
    projected = tokens @ components[: min(3, components.shape[0])].T
    if projected.shape[1] < 3:
        projected = F.pad(projected, (0, 3 - projected.shape[1]))
    low, high = projected.min(dim=0).values, projected.max(dim=0).values
    projected = (projected - low) / (high - low).clamp_min(1e-6)
    return projected.view(batch, height, width, 3).permute(0, 3, 1, 2)
