"""FrozenTeacher (offline weights, never checkpointed) and EMATeacher (averaged, checkpointed)."""

import hashlib
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from dtcd.bands import DEO10, FMOW_SENTINEL_DEO10, RGB, S2_L2A_12, MissingBandError
from dtcd.models import EMATeacher, FrozenTeacher, MultiStemSwin, ProjectionHead
from dtcd.models.teachers import TEACHER_NORMALIZATION

# A 4-block DINOv3 architecture (with q/v biases, to exercise Meta's qkv.bias conversion).
NAME = 'vit_small_patch16_dinov3_qkvb'
KWARGS = {'depth': 4, 'embed_dim': 64, 'num_heads': 2}
BLOCKS = (2, 3)


def random_teacher(**kwargs) -> FrozenTeacher:
    with pytest.warns(UserWarning, match='RANDOM weights'):
        return FrozenTeacher(NAME, None, blocks=BLOCKS, model_kwargs=KWARGS, **kwargs)


def source_state() -> dict[str, Tensor]:
    """A timm state dict with every tensor random, so a faulty load cannot pass by accident."""
    torch.manual_seed(1)
    model = timm.create_model(NAME, pretrained=False, **KWARGS)
    return {k: torch.randn_like(v) for k, v in model.state_dict().items()}


def to_meta_keys(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Invert timm's eva.checkpoint_filter_fn: write the state in Meta's DINOv3 names."""
    meta: dict[str, Tensor] = {'mask_token': torch.zeros(1, KWARGS['embed_dim'])}
    for key, value in state.items():
        if key.endswith('attn.q_bias'):
            v_bias = state[key.replace('q_bias', 'v_bias')]
            qkv = torch.cat([value, torch.zeros_like(value), v_bias])
            meta[key.replace('q_bias', 'qkv.bias')] = qkv
            meta[key.replace('q_bias', 'qkv.bias_mask')] = torch.ones_like(qkv)
        elif not key.endswith('attn.v_bias'):
            key = key.replace('reg_token', 'storage_tokens')
            meta[key.replace('gamma_1', 'ls1.gamma').replace('gamma_2', 'ls2.gamma')] = value
    meta['rope_embed.periods'] = torch.ones(8)
    return meta


def assert_weights_equal(teacher: FrozenTeacher, state: dict[str, Tensor]) -> None:
    loaded = teacher.model.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0, msg=key)


def test_tokens_shapes() -> None:
    teacher = random_teacher()
    assert (teacher.embed_dim, teacher.patch_size, teacher.grid(224)) == (64, 16, (14, 14))
    for size in (224, 256):
        tokens = teacher(torch.randn(2, 10, size, size), DEO10)
        assert tokens.pooled.shape == (2, 64)
        assert [tuple(p.shape) for p in tokens.maps] == [(2, 64, size // 16, size // 16)] * 2


def test_rgb_by_name_input_transform_and_normed_tokens() -> None:
    in_mean, in_std = FMOW_SENTINEL_DEO10.tensors(RGB)
    teacher = random_teacher(
        normalization='sat', input_mean=in_mean.tolist(), input_std=in_std.tolist()
    )
    rgb01 = torch.rand(2, 3, 64, 64)
    # An L2A-ordered batch: B02, B03, B04 sit at positions 1, 2, 3 (blue first).
    batch = torch.randn(2, len(S2_L2A_12), 64, 64)
    batch[:, [S2_L2A_12.index(b) for b in RGB]] = (rgb01 - in_mean.view(3, 1, 1)) / in_std.view(
        3, 1, 1
    )
    tokens = teacher(batch, S2_L2A_12)
    mean, std = (torch.tensor(s).view(3, 1, 1) for s in TEACHER_NORMALIZATION['sat'])
    expected = teacher.model.forward_intermediates(
        (rgb01 - mean) / std,
        indices=list(BLOCKS),
        return_prefix_tokens=True,
        norm=True,
        intermediates_only=True,
    )
    for got, (patches, _) in zip(tokens.maps, expected, strict=True):
        torch.testing.assert_close(got, patches, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(tokens.pooled, expected[-1][1][:, 0], atol=1e-5, rtol=1e-5)


def test_missing_rgb_band_is_named() -> None:
    with pytest.raises(MissingBandError, match='B04'):
        random_teacher()(torch.randn(1, 2, 64, 64), ['B08', 'B8A'])


def test_meta_dinov3_file_loads_offline(tmp_path: Path) -> None:
    state = source_state()
    path = tmp_path / 'dinov3_vits16_pretrain_lvd1689m-tiny.pth'
    torch.save(to_meta_keys(state), path)
    teacher = FrozenTeacher(NAME, str(path), blocks=BLOCKS, model_kwargs=KWARGS)
    assert_weights_equal(teacher, state)
    assert teacher.weights_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert teacher.weights_path == str(path)


def test_safetensors_file_loads(tmp_path: Path) -> None:
    state = source_state()
    path = tmp_path / 'teacher.safetensors'
    save_file(state, path)
    assert_weights_equal(FrozenTeacher(NAME, str(path), blocks=BLOCKS, model_kwargs=KWARGS), state)


def test_missing_file_says_how_to_get_dinov3(tmp_path: Path) -> None:
    path = tmp_path / 'nowhere' / 'dinov3_vitb16.pth'
    with pytest.raises(FileNotFoundError) as info:
        FrozenTeacher(weights=str(path))
    message = str(info.value)
    assert str(path) in message and 'facebookresearch/dinov3' in message
    assert 'licen' in message and 'dinov3_vitb16_pretrain_lvd1689m' in message


def test_not_in_parent_state_dict_nor_parameters(tmp_path: Path) -> None:
    path = tmp_path / 'teacher.safetensors'
    save_file(source_state(), path)
    parent = nn.Module()
    parent.student = nn.Linear(2, 2)
    parent.teacher = FrozenTeacher(NAME, str(path), blocks=BLOCKS, model_kwargs=KWARGS)
    state = parent.state_dict()
    assert set(state) == {'student.weight', 'student.bias', 'teacher._extra_state'}
    assert state['teacher._extra_state']['weights_sha256'] == parent.teacher.weights_sha256
    assert len(list(parent.parameters())) == 2
    parent.load_state_dict(state, strict=True)
    parent.to(torch.float64)  # moves travel to the hidden timm model
    assert parent.teacher.model.cls_token.dtype == torch.float64
    assert not any(p.requires_grad for p in parent.teacher.model.parameters())
    parent.train()
    assert not parent.teacher.training and not parent.teacher.model.training


def test_sha256_mismatch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / 'teacher.safetensors'
    save_file(source_state(), path)
    teacher = FrozenTeacher(NAME, str(path), blocks=BLOCKS, model_kwargs=KWARGS)
    teacher.verify()
    recorded = teacher.get_extra_state()
    save_file({k: v + 1 for k, v in source_state().items()}, path)
    with pytest.raises(RuntimeError, match='changed'):
        teacher.verify()
    other = FrozenTeacher(NAME, str(path), blocks=BLOCKS, model_kwargs=KWARGS)
    with pytest.raises(RuntimeError, match='sha256'):
        other.load_state_dict({'_extra_state': recorded})


def test_bad_blocks_and_normalization() -> None:
    with pytest.raises(ValueError, match='blocks'), pytest.warns(UserWarning):
        FrozenTeacher(NAME, None, blocks=(11,), model_kwargs=KWARGS)
    with pytest.raises(ValueError, match='lvd'), pytest.warns(UserWarning):
        FrozenTeacher(NAME, None, blocks=BLOCKS, normalization='imagenet', model_kwargs=KWARGS)


def ema_pair() -> tuple[MultiStemSwin, ProjectionHead, EMATeacher]:
    torch.manual_seed(0)
    student = MultiStemSwin(None, embed_dim=24, depths=(1, 1, 1, 1), num_heads=(1, 2, 3, 4))
    head = ProjectionHead(student.num_features, 16, hidden_dim=32)
    teacher = EMATeacher(student, head)
    with torch.no_grad():
        for p in [*student.parameters(), *head.parameters()]:
            p.add_(torch.randn_like(p))
    return student, head, teacher


def test_ema_momentum_one_keeps_zero_copies() -> None:
    student, head, teacher = ema_pair()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    teacher.update(student, head, momentum=1.0)
    for key, value in teacher.state_dict().items():
        assert torch.equal(value, before[key]), key
    teacher.update(student, head, momentum=0.0)
    sources = {**student.state_dict(), **{f'head.{k}': v for k, v in head.state_dict().items()}}
    for key, value in teacher.backbone.state_dict().items():
        assert torch.equal(value, sources[key]), key
    for key, value in teacher.head.state_dict().items():
        assert torch.equal(value, sources[f'head.{key}']), key


def test_ema_holds_ms_stem_only_and_stays_frozen() -> None:
    student, head, teacher = ema_pair()
    assert list(teacher.backbone.stems) == ['ms']
    assert not any('rgb' in k for k in teacher.state_dict())
    assert not any(p.requires_grad for p in teacher.parameters())
    parent = nn.Module()
    parent.student, parent.head, parent.ema = student, head, teacher
    parent.train()
    assert not any(m.training for m in teacher.modules())
    assert any(k.startswith('ema.backbone.features.') for k in parent.state_dict())
    out = teacher(torch.randn(2, 10, 64, 64))
    assert out.shape == (2, 16) and not out.requires_grad


def test_nonzero_meta_qv_biases_are_loaded_not_dropped(tmp_path: Path) -> None:
    """timm's plain DINOv3 model has no q/v biases and its converter only prints when it drops
    them; a Meta file with non-zero ones builds the model with biases, so nothing is lost."""
    state = source_state()  # random, non-zero q/v biases
    path = tmp_path / 'dinov3_finetuned.pth'
    torch.save(to_meta_keys(state), path)
    teacher = FrozenTeacher('vit_small_patch16_dinov3', str(path), BLOCKS, model_kwargs=KWARGS)
    assert_weights_equal(teacher, state)


def test_zero_meta_qv_biases_keep_timms_biasless_model(tmp_path: Path) -> None:
    state = source_state()
    for key in state:
        if key.endswith(('q_bias', 'v_bias')):
            state[key] = torch.zeros_like(state[key])
    path = tmp_path / 'dinov3_released.pth'
    torch.save(to_meta_keys(state), path)
    teacher = FrozenTeacher('vit_small_patch16_dinov3', str(path), BLOCKS, model_kwargs=KWARGS)
    assert not any(k.endswith('q_bias') for k in teacher.model.state_dict())
    with_biases = FrozenTeacher(NAME, str(path), BLOCKS, model_kwargs=KWARGS)
    x = torch.randn(2, 10, 32, 32)
    torch.testing.assert_close(teacher(x, DEO10).pooled, with_biases(x, DEO10).pooled)


def test_a_model_that_cannot_hold_nonzero_biases_is_refused(tmp_path: Path) -> None:
    path = tmp_path / 'dinov3_finetuned.pth'
    torch.save(to_meta_keys(source_state()), path)
    kwargs = {**KWARGS, 'qkv_bias': False}
    with pytest.raises(ValueError, match=r"non-zero attention q/v biases .*'blocks\.\d\.attn"):
        FrozenTeacher('vit_small_patch16_dinov3', str(path), BLOCKS, model_kwargs=kwargs)


@pytest.mark.parametrize('mode', ['eval', 'train'])
def test_ema_teacher_mode_decides_stochastic_depth_in_training(mode: str) -> None:
    """'eval' (dtcd): deterministic targets in training; 'train' (the DEO authors): the
    student's stochastic depth runs in the teacher too."""
    torch.manual_seed(0)
    student = MultiStemSwin(
        None, embed_dim=24, depths=(2, 2, 2, 2), num_heads=(1, 2, 3, 4), drop_path_rate=0.5
    )
    head = ProjectionHead(student.num_features, 16, hidden_dim=32)
    parent = nn.Module()
    parent.ema = EMATeacher(student, head, mode=mode)  # type: ignore[arg-type]
    parent.train()
    x = torch.randn(2, 10, 64, 64)
    torch.manual_seed(1)
    first = parent.ema(x)
    second = parent.ema(x)
    assert torch.equal(first, second) == (mode == 'eval')
    parent.eval()
    assert torch.equal(parent.ema(x), parent.ema(x))
    with pytest.raises(ValueError, match="'eval' or 'train'"):
        EMATeacher(student, head, mode='noisy')  # type: ignore[arg-type]
