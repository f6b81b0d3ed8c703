"""Downstream read-outs of a pretrained backbone: Lightning probes and quick functional helpers."""

from dtcd.probes.backbones import SPEC_FORMS, ProbeBackbone, build_backbone
from dtcd.probes.base import BaseProbe, ProbeData
from dtcd.probes.cache import FeatureCache
from dtcd.probes.change import ChangeDetectionProbe
from dtcd.probes.classification import ClassificationProbe
from dtcd.probes.knn import knn_scores
from dtcd.probes.linear import (
    accuracy,
    extract_features,
    fit_linear_classifier,
    knn_accuracy,
    knn_predict,
)
from dtcd.probes.segmentation import SegmentationProbe

__all__ = [
    'SPEC_FORMS',
    'BaseProbe',
    'ChangeDetectionProbe',
    'ClassificationProbe',
    'FeatureCache',
    'ProbeBackbone',
    'ProbeData',
    'SegmentationProbe',
    'accuracy',
    'build_backbone',
    'extract_features',
    'fit_linear_classifier',
    'knn_accuracy',
    'knn_predict',
    'knn_scores',
]
