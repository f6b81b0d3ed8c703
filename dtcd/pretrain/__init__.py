"""Pretraining by distillation: the LightningModule, its optimizer and schedules, its guards and
the callbacks that watch it (DESIGN.md: the meta-architecture of one training step)."""

from dtcd.pretrain.guards import NonFiniteLossError, NonFiniteWeightsError
from dtcd.pretrain.module import DistillationModule

__all__ = ['DistillationModule', 'NonFiniteLossError', 'NonFiniteWeightsError']
