"""Device-side augmentation: batched multi-crop and RGB-only photometric ops."""

from dtcd.augment.multicrop import MultiCrop, MultiCropViews, crop_resize, sample_crop_boxes

__all__ = ['MultiCrop', 'MultiCropViews', 'crop_resize', 'sample_crop_boxes']
