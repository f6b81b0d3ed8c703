"""Downstream read-outs of a pretrained backbone."""

from dtcd.probes.linear import (
    accuracy,
    extract_features,
    fit_linear_classifier,
    knn_accuracy,
)

__all__ = [
    'accuracy',
    'extract_features',
    'fit_linear_classifier',
    'knn_accuracy',
]
