"""Downstream read-outs of a pretrained backbone."""

from dtcd.probes.linear import accuracy, band_statistics, extract_features, fit_linear_classifier

__all__ = ['accuracy', 'band_statistics', 'extract_features', 'fit_linear_classifier']
