"""dtcd: dual-teacher contrastive distillation for multispectral Earth observation."""

__version__ = '0.1.0'
