"""Shared probe fixtures: tiny architectures and a briefly pretrained dtcd checkpoint."""

from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from torch.utils.data import DataLoader

from dtcd.augment import MultiCrop
from dtcd.distill import MCRObjective, OpticalDistillation, SelfDistillation
from dtcd.models import FrozenTeacher, MultiStemSwin
from dtcd.pretrain import DistillationModule

#: A Swin small enough for 2 shared CPU cores (``random:`` backbone_kwargs).
TINY_SWIN = {'embed_dim': 16, 'depths': [1, 1, 1, 1], 'num_heads': [1, 1, 2, 2], 'window_size': 4}
TINY_SWIN_YAML = '{embed_dim: 16, depths: [1, 1, 1, 1], num_heads: [1, 1, 2, 2], window_size: 4}'


class _Images(torch.utils.data.Dataset):
    def __init__(self, n: int = 16) -> None:
        self.images = torch.randn(n, 10, 40, 40, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {'image': self.images[i]}


@pytest.fixture(scope='session')
def pretrained_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dtcd Lightning checkpoint of a tiny DistillationModule after a few steps."""
    torch.manual_seed(0)
    student = MultiStemSwin(variant=None, **TINY_SWIN)
    teacher = FrozenTeacher(
        'vit_small_patch16_dinov3',
        weights=None,
        blocks=[0, 1],
        normalization=None,
        model_kwargs={'depth': 2, 'embed_dim': 48, 'num_heads': 2},
    )
    teachers = [
        SelfDistillation(MCRObjective(out_dim=16, hidden_dim=32)),
        OpticalDistillation(teacher, hidden_dim=32),
    ]
    multicrop = MultiCrop(global_size=32, local_size=16, num_local=2, blur_kernel_size=5)
    module = DistillationModule(student, teachers, multicrop)  # type: ignore[arg-type]
    root = tmp_path_factory.mktemp('pretrained')
    trainer = Trainer(
        accelerator='cpu',
        default_root_dir=root,
        max_steps=3,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(module, DataLoader(_Images(), batch_size=4))
    path = root / 'pretrained.ckpt'
    trainer.save_checkpoint(path)
    return path
