"""Pretraining objectives: MCR (DEO default), DINO prototypes, and feature distillation."""

from dtcd.losses.distill import CLSDistillLoss, PatchDistillLoss, cross_view_cosine, patch_cosine
from dtcd.losses.mcr import MCRLoss, coding_rate

__all__ = [
    'CLSDistillLoss',
    'MCRLoss',
    'PatchDistillLoss',
    'coding_rate',
    'cross_view_cosine',
    'patch_cosine',
]
