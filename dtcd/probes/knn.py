"""Weighted k-nearest-neighbour readout on cosine similarity (DINO's k-NN evaluation).

It needs no training, so it measures the feature space itself, independently of how well a
linear head happened to converge.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['knn_scores']


@torch.no_grad()
def knn_scores(
    bank: Tensor,
    bank_labels: Tensor,
    queries: Tensor,
    num_classes: int,
    k: int = 20,
    temperature: float = 0.07,
    chunk: int = 1024,
) -> Tensor:
    """Class scores ``[Q, num_classes]`` summing to 1 per query.

    Each of the ``k`` most cosine-similar bank items votes for its label(s) with weight
    ``exp(similarity / temperature)``.

    Args:
        bank: ``[N, D]`` reference features.
        bank_labels: ``[N]`` class ids, or ``[N, K]`` multi-hot labels.
        queries: ``[Q, D]`` features to classify.
        num_classes: Number of classes ``K``.
        k: Neighbours (capped at ``N``).
        temperature: Softness of the vote weights.
        chunk: Queries per similarity block (bounds memory at ``chunk × N``).
    """
    bank = F.normalize(bank.float(), dim=1)
    votes = (
        F.one_hot(bank_labels.long(), num_classes).float()
        if bank_labels.ndim == 1
        else bank_labels.float()
    )
    k = min(k, len(bank))
    scores = []
    for block in F.normalize(queries.float(), dim=1).split(chunk):
        similarity, index = (block @ bank.T).topk(k, dim=1)
        weights = (similarity / temperature).softmax(dim=1)  # exp(s/T), normalised
        scores.append(torch.einsum('qk,qkc->qc', weights, votes[index]))
    return torch.cat(scores)
