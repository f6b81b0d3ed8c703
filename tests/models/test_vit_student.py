"""ViTStudent: the student interface on a timm ViT, DINO pretraining, export to FrozenTeacher."""

from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from timm.optim import param_groups_layer_decay, param_groups_weight_decay
from torch.utils.data import DataLoader, Dataset

from dtcd.augment import MultiCrop
from dtcd.bands import RGB
from dtcd.distill import DINOObjective, SelfDistillation
from dtcd.main import main
from dtcd.models import FrozenTeacher, ViTStudent, export_vit_teacher
from dtcd.pretrain import DistillationModule

TINY = {'depth': 4, 'embed_dim': 48, 'num_heads': 2}


def tiny_vit() -> ViTStudent:
    torch.manual_seed(0)
    return ViTStudent(model_kwargs=TINY)


def test_interface_shapes() -> None:
    student = tiny_vit().eval()
    assert list(student.stems) == ['rgb'] and student.bands == {'rgb': RGB}
    x = torch.randn(2, 3, 32, 48)
    features = student.encode(x, 'rgb')
    assert [tuple(f.shape) for f in features.maps] == [(2, 48, 2, 3)] * 4
    assert student.feature_dims == [48] * 4 and student.num_features == 48
    tokens = student.model.forward_features(x)  # timm's: final norm applied, class token first
    assert torch.equal(features.pooled, tokens[:, 0])
    maps = student.forward_features(x, 'rgb')
    assert all(torch.equal(a, b) for a, b in zip(maps, features.maps, strict=True))
    assert student(torch.randn(2, 3, 32, 32), 'rgb').shape == (2, 48)
    assert ViTStudent(**student.config()).config() == student.config()
    with pytest.raises(NotImplementedError):
        student.forward_features(torch.randn(1, 3, 32, 32), 'rgb', mask=torch.ones(1, 1, 1))
    with pytest.raises(ValueError, match='expects'):
        student.forward_features(torch.randn(1, 10, 32, 32), 'rgb')


class RGBImages(Dataset):
    def __init__(self, n: int = 8) -> None:
        self.images = torch.randn(n, 3, 40, 40, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {'image': self.images[i]}


def frozen_tiny(weights: Path) -> FrozenTeacher:
    """A FrozenTeacher of the TINY architecture reading ``weights``, fed what it was trained on."""
    return FrozenTeacher(
        'vit_small_patch16_dinov3',
        weights=str(weights),
        blocks=[3],
        normalization=None,
        model_kwargs=TINY,
    )


def test_dino_pretraining_then_export_to_frozen_teacher(tmp_path: Path) -> None:
    dino = SelfDistillation(DINOObjective(out_dim=32, hidden_dim=32), stem='rgb', name='dino')
    multicrop = MultiCrop(
        bands='rgb', global_size=32, local_size=16, num_local=2, blur_kernel_size=5
    )
    module = DistillationModule(tiny_vit(), [dino], multicrop, lr=1e-3, lr_reference_batch=4)
    ema_before = [p.detach().clone() for p in dino.teacher.parameters()]
    fit = Trainer(
        accelerator='cpu',
        default_root_dir=tmp_path,
        max_steps=2,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    fit.fit(module, DataLoader(RGBImages(), batch_size=4))
    assert fit.global_step == 2
    ema_after = list(dino.teacher.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(ema_before, ema_after, strict=True))

    ckpt = fit.checkpoint_callback.best_model_path
    teacher = frozen_tiny(export_vit_teacher(ckpt, tmp_path / 'teacher.safetensors'))
    x = torch.randn(2, 3, 32, 32)
    student = module.student.eval()
    with torch.no_grad():
        expected = student(x, 'rgb')
    torch.testing.assert_close(teacher(x, RGB).pooled, expected)

    # `dtcd export --timm` with the EMA teacher's prefix: what DINO evaluates.
    ema_file = tmp_path / 'ema.safetensors'
    prefix = 'teachers.0.teacher.backbone.model.'
    main(['export', ckpt, str(ema_file), '--timm', '--prefix', prefix])
    ema = frozen_tiny(ema_file)
    with torch.no_grad():
        ema_expected = dino.teacher.backbone.eval()(x, 'rgb')
    torch.testing.assert_close(ema(x, RGB).pooled, ema_expected)
    assert not torch.allclose(ema_expected, expected)  # two distinct networks were exported
    with pytest.raises(ValueError, match=r'ViTStudent.*--timm'):  # not a Swin export
        main(['export', ckpt, str(tmp_path / 'swin.safetensors')])


def test_timm_parameter_groups_of_the_inner_vit() -> None:
    student = tiny_vit()
    assert student.no_weight_decay() == {f'model.{n}' for n in student.model.no_weight_decay()}
    groups = param_groups_layer_decay(
        student, 0.05, no_weight_decay_list=student.no_weight_decay(), layer_decay=0.5
    )
    name_of = {id(p): n for n, p in student.named_parameters()}
    scale = {name_of[id(p)]: g['lr_scale'] for g in groups for p in g['params']}
    decay = {name_of[id(p)]: g['weight_decay'] for g in groups for p in g['params']}
    # timm's own grouping of the bare ViT, under `model.`
    bare = param_groups_layer_decay(student.model, 0.05, layer_decay=0.5)
    bare_name = {id(p): n for n, p in student.model.named_parameters()}
    assert scale == {f'model.{bare_name[id(p)]}': g['lr_scale'] for g in bare for p in g['params']}
    assert scale['model.patch_embed.proj.weight'] == 0.5**4  # stem, 4 blocks (norm joins last)
    assert scale['model.blocks.3.attn.qkv.weight'] == scale['model.norm.weight'] == 1.0
    assert decay['model.cls_token'] == 0.0 and decay['model.blocks.0.attn.qkv.weight'] == 0.05
    plain = param_groups_weight_decay(student, 0.05, no_weight_decay_list=student.no_weight_decay())
    no_decay = {name_of[id(p)] for g in plain if g['weight_decay'] == 0 for p in g['params']}
    assert 'model.cls_token' in no_decay and 'model.blocks.0.attn.qkv.weight' not in no_decay
