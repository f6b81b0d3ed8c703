"""Device-side augmentation: batched multi-crop, then ops per band group and view group
(:class:`ViewOps`): dtcd's fast RGB ops (:mod:`dtcd.augment.ops`), EO ops on all bands
(:mod:`dtcd.augment.spectral`) and Kornia's, given in YAML by ``class_path``."""

from dtcd.augment.multicrop import (
    MultiCrop,
    MultiCropViews,
    crop_resize,
    deo_ops,
    sample_crop_boxes,
)
from dtcd.augment.views import ViewOps

__all__ = ['MultiCrop', 'MultiCropViews', 'ViewOps', 'crop_resize', 'deo_ops', 'sample_crop_boxes']
