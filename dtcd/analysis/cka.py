"""Linear centred kernel alignment (CKA), the representation similarity of the paper's §1.

Kornblith et al. (2019), "Similarity of Neural Network Representations Revisited": for features
``X [n, p]`` and ``Y [n, q]`` of the same ``n`` inputs, centred per feature,
``CKA = ||YᵀX||²_F / (||XᵀX||_F · ||YᵀY||_F)``, the feature-space form of
``HSIC(K, L) / sqrt(HSIC(K, K) · HSIC(L, L))`` with linear kernels ``K = XXᵀ``, ``L = YYᵀ``.
It lies in [0, 1], is invariant to orthogonal transforms and isotropic scaling of either side,
and does not need ``p == q`` — so a Swin student and a ViT teacher can be compared directly.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ['linear_cka']


def linear_cka(x: Tensor, y: Tensor) -> Tensor:
    """Linear CKA of two ``[n, features]`` matrices whose rows are the same ``n`` inputs.

    Computed in float64: the ratio of squared Frobenius norms loses precision in float32 when
    features are large or nearly collinear.
    """
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f'need [n, p] and [n, q] features, got {tuple(x.shape)}, {tuple(y.shape)}')
    x = x.double() - x.double().mean(dim=0)
    y = y.double() - y.double().mean(dim=0)
    cross = torch.linalg.matrix_norm(y.T @ x) ** 2
    return cross / (torch.linalg.matrix_norm(x.T @ x) * torch.linalg.matrix_norm(y.T @ y))
