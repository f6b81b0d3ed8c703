"""Frozen-feature linear probing: extract pooled features once, fit a linear classifier on them.

This is the cheap read-out the demo and sweeps use: with a frozen backbone and no training
augmentation, features are computed once and every later epoch costs only the linear layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from dtcd.bands import reindex
from dtcd.models import MultiStemSwin
from dtcd.probes.knn import knn_scores


@torch.no_grad()
def extract_features(
    backbone: MultiStemSwin,
    dataset: Dataset[dict[str, Tensor]],
    stem: str,
    bands: Sequence[str],
    normalize: Callable[[Tensor], Tensor],
    batch_size: int = 64,
) -> tuple[Tensor, Tensor]:
    """Pooled features ``[N, D]`` and labels ``[N]`` of a labelled dataset.

    Args:
        backbone: The frozen student.
        dataset: Yields ``{'image': [C, H, W], 'label': int}`` with channels named ``bands``.
        stem: The stem to use; its bands are picked from ``bands`` by name.
        bands: Band names of the dataset's channels.
        normalize: Maps a batch already reindexed to the stem's bands to the model's input.
        batch_size: Images per forward pass.
    """
    backbone.eval()
    features, labels = [], []
    for batch in DataLoader(dataset, batch_size=batch_size):
        x = reindex(batch['image'].float(), bands, backbone.bands[stem])
        features.append(backbone(normalize(x), stem).float())
        labels.append(batch['label'])
    return torch.cat(features), torch.cat(labels)


def fit_linear_classifier(
    features: Tensor,
    labels: Tensor,
    num_classes: int,
    weight_decay: float = 1e-3,
    iterations: int = 200,
) -> torch.nn.Linear:
    """Multinomial logistic regression on standardised features, fitted with L-BFGS.

    Full-batch and deterministic, so two backbones are compared without optimiser noise.
    """
    torch.manual_seed(0)
    mean, std = features.mean(dim=0), features.std(dim=0).clamp_min(1e-6)
    x = (features - mean) / std
    linear = torch.nn.Linear(x.shape[1], num_classes)
    optimizer = torch.optim.LBFGS(
        linear.parameters(), max_iter=iterations, line_search_fn='strong_wolfe'
    )

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(linear(x), labels) + weight_decay * linear.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    # Fold the standardisation into the layer so it applies to raw features.
    with torch.no_grad():
        linear.weight.div_(std)
        linear.bias.sub_((linear.weight * mean).sum(dim=1))
    return linear


@torch.no_grad()
def accuracy(linear: torch.nn.Linear, features: Tensor, labels: Tensor) -> float:
    """Top-1 accuracy of ``linear`` on ``features``."""
    return (linear(features).argmax(dim=1) == labels).float().mean().item()


@torch.no_grad()
def knn_predict(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    k: int = 10,
) -> Tensor:
    """Labels of an unweighted cosine k-nearest-neighbour vote (the usual SSL read-out).

    Features are centred on the training mean first, so the vote compares directions of
    variation rather than a shared offset; an infinite temperature makes every neighbour's vote
    equal in :func:`~dtcd.probes.knn.knn_scores`.
    """
    centre = train_features.mean(dim=0)
    scores = knn_scores(
        train_features - centre,
        train_labels,
        test_features - centre,
        int(train_labels.max()) + 1,
        k=k,
        temperature=float('inf'),
    )
    return scores.argmax(dim=1)


def knn_accuracy(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    k: int = 10,
) -> float:
    """Top-1 accuracy of :func:`knn_predict`."""
    predicted = knn_predict(train_features, train_labels, test_features, k)
    return (predicted == test_labels).float().mean().item()
