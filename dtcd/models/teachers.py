"""The two teachers' networks: a frozen pretrained timm model and an EMA copy of the student.

:class:`FrozenTeacher` is never trained and never checkpointed: its weights come from a local file
(recorded by path and sha256) and its timm model lives outside the registered-module tree, so no
parent ``state_dict()``, ``load_state_dict()``, ``parameters()`` or optimizer ever sees it.
:class:`EMATeacher` is the opposite: its weights are the training state, so it is checkpointed.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import timm
import torch
from lightning.pytorch.utilities import rank_zero_warn
from safetensors.torch import load_file
from torch import Tensor, nn

from dtcd.bands import RGB, band_indices, resolve_bands
from dtcd.models.features import StageFeatures
from dtcd.models.student import Student

__all__ = ['TEACHER_NORMALIZATION', 'EMATeacher', 'FrozenTeacher', 'sha256sum']

#: Input statistics of the DINOv3 weights: LVD-1689M (web, ImageNet statistics) and SAT-493M.
TEACHER_NORMALIZATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    'lvd': ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    'sat': ((0.430, 0.411, 0.296), (0.213, 0.156, 0.143)),
}

_HOW_TO_GET_DINOV3 = (
    'DINOv3 weights are a gated download: request access through the licence form linked from '
    'https://github.com/facebookresearch/dinov3, download the backbone file (for the default '
    'ViT-B/16 teacher: dinov3_vitb16_pretrain_lvd1689m-<hash>.pth; the satellite ViT-L/16: '
    'dinov3_vitl16_pretrain_sat493m-<hash>.pth) and save it at that path, or point `weights` '
    "at where it is. Meta's original .pth, a timm state dict or a .safetensors file all work. "
    'weights=None builds a randomly initialised teacher, for tests only.'
)


def attention_qv_biases(path: str | Path) -> dict[str, float]:
    """Largest absolute query / value attention bias per key of a checkpoint, by key.

    Meta's DINOv3 files keep ``blocks.<i>.attn.qkv.bias`` (the key third is masked to zero);
    timm-format files ``q_bias`` / ``v_bias``. The released ViT-B/L/H weights have all-zero
    biases, which timm's DINOv3 models (no q/v bias) drop without a loss; non-zero ones must be
    loaded into a model that holds them.
    """
    state = _read_state(path)
    biases: dict[str, float] = {}
    for key, value in state.items():
        if key.endswith('attn.qkv.bias'):
            query, _, val = value.float().chunk(3, dim=-1)
            biases[key] = float(torch.cat([query, val]).abs().max())
        elif key.endswith(('attn.q_bias', 'attn.v_bias')):
            biases[key] = float(value.float().abs().max())
    return biases


def _read_state(path: str | Path) -> Mapping[str, Tensor]:
    """A checkpoint's flat state dict (safetensors, or a torch file holding tensors only)."""
    if str(path).endswith('.safetensors'):
        return load_file(str(path))
    state = torch.load(path, map_location='cpu', weights_only=True, mmap=True)
    for wrapper in ('model', 'state_dict', 'teacher'):
        if isinstance(state, Mapping) and isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
    return {k: v for k, v in state.items() if isinstance(v, Tensor)}


def _holds_qv_biases(model: nn.Module) -> bool:
    return any(name.endswith('attn.q_bias') for name, _ in model.named_parameters())


def sha256sum(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks so multi-GB weights do not fill memory."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


class FrozenTeacher(nn.Module):
    """A frozen timm model (DINOv3 ViT-B/16 by default) fed the RGB bands of MS batches.

    The input transform maps dtcd-normalised RGB back to [0, 1] with ``input_mean``/``input_std``
    (skip it when the RGB already is in [0, 1]), then applies the teacher's own statistics.

    Args:
        model_name: timm model name.
        weights: Local weights file (Meta's DINOv3 ``.pth``, a timm state dict or safetensors);
            ``None`` builds a random teacher and warns.
        blocks: Block indices whose patch tokens are returned (DEO: 8 and 11 for ViT-B).
        normalization: Teacher statistics: a name in :data:`TEACHER_NORMALIZATION`, an explicit
            ``[mean, std]`` pair, or ``None`` to feed the RGB as it comes.
        input_mean: Per-channel mean (R, G, B) the incoming RGB was standardised with.
        input_std: Per-channel std (R, G, B) the incoming RGB was standardised with.
        rgb_bands: Band names the teacher's three input channels take, in order.
        model_kwargs: Extra ``timm.create_model`` arguments (e.g. a tiny ``depth`` for tests).
    """

    def __init__(
        self,
        model_name: str = 'vit_base_patch16_dinov3',
        weights: str | None = None,
        blocks: Sequence[int] = (8, 11),
        normalization: str | Sequence[Sequence[float]] | None = 'lvd',
        input_mean: Sequence[float] | None = None,
        input_std: Sequence[float] | None = None,
        rgb_bands: Sequence[str] = RGB,
        model_kwargs: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        self.model_name = model_name
        self.rgb_bands = resolve_bands(rgb_bands)
        self.weights_path = None if weights is None else str(Path(weights).expanduser())
        self.weights_sha256: str | None = None
        kwargs = dict(model_kwargs or {})
        if self.weights_path is None:
            rank_zero_warn(
                f'FrozenTeacher({model_name!r}) has RANDOM weights (weights=None): distilling from '
                'it teaches nothing. Use this for tests and demos only. ' + _HOW_TO_GET_DINOV3
            )
            model = timm.create_model(model_name, pretrained=False, **kwargs)
        else:
            if not Path(self.weights_path).is_file():
                raise FileNotFoundError(
                    f'Teacher weights for {model_name!r} not found at {self.weights_path}. '
                    + _HOW_TO_GET_DINOV3
                )
            self.weights_sha256 = sha256sum(self.weights_path)
            biases = attention_qv_biases(self.weights_path)
            largest = max(biases.values(), default=0.0)
            if largest > 0:  # timm's DINOv3 models drop q/v biases unless built to hold them
                kwargs.setdefault('qkv_bias', True)
            model = timm.create_model(
                model_name,
                pretrained=True,
                pretrained_cfg_overlay={'file': self.weights_path},
                **kwargs,
            )
            if largest > 0 and not _holds_qv_biases(model):
                key = max(biases, key=biases.__getitem__)
                raise ValueError(
                    f'{self.weights_path} has non-zero attention q/v biases (largest |bias| '
                    f'{largest:.4g} in {key!r}, {len(biases)} keys) that {model_name!r} with '
                    f'{dict(model_kwargs or {})} cannot hold: they would be dropped silently and '
                    "the tokens would differ from the checkpoint's model. Remove "
                    '`qkv_bias: false` from model_kwargs or use a timm model with q/v biases.'
                )
        model.requires_grad_(False).eval()
        # Kept out of the module tree (see module docstring); _apply moves it with the parent.
        object.__setattr__(self, '_model', model)
        if getattr(model, 'num_prefix_tokens', 0) < 1:
            raise ValueError(f'{model_name!r} has no class token to distil from.')
        self.blocks = tuple(sorted(set(blocks)))
        depth = len(model.blocks)
        if not self.blocks or not all(0 <= b < depth for b in self.blocks):
            raise ValueError(f'blocks {list(blocks)} must lie in [0, {depth}) for {model_name!r}.')
        scale, shift = _input_affine(normalization, input_mean, input_std)
        self.register_buffer('scale', scale.view(1, 3, 1, 1), persistent=False)
        self.register_buffer('shift', shift.view(1, 3, 1, 1), persistent=False)

    @property
    def model(self) -> nn.Module:
        """The wrapped timm model (not a registered submodule)."""
        return self._model

    @property
    def embed_dim(self) -> int:
        """Token width."""
        return int(self._model.embed_dim)

    @property
    def patch_size(self) -> int:
        """Side of a square patch in pixels."""
        return int(self._model.patch_embed.patch_size[0])

    def grid(self, img_size: int | tuple[int, int]) -> tuple[int, int]:
        """Patch-token grid ``(h, w)`` for an input of ``img_size`` pixels."""
        h, w = (img_size, img_size) if isinstance(img_size, int) else img_size
        return h // self.patch_size, w // self.patch_size

    def train(self, mode: bool = True) -> FrozenTeacher:
        """Stay in eval mode whatever the parent asks: the teacher is never trained."""
        super().train(False)
        self._model.eval()
        return self

    def _apply(self, fn: Any, recurse: bool = True) -> FrozenTeacher:
        # Device and dtype moves (.to, .cuda, .bfloat16) reach the unregistered model too.
        if recurse:
            self._model._apply(fn)
        return super()._apply(fn, recurse)

    @torch.no_grad()
    def forward(self, x: Tensor, bands: Sequence[str]) -> StageFeatures:
        """Tokens of the RGB bands of ``x``: ``maps``, one ``[B, D, h, w]`` patch-token map per
        requested block (final norm applied, register tokens removed), in block order; ``pooled``,
        the final-norm class token ``[B, D]`` of the last requested block.

        Args:
            x: ``[B, C, H, W]`` batch whose channels are ``bands``.
            bands: Band names of ``x``'s channels; the teacher picks its RGB from them by name.
        """
        size, patch = tuple(x.shape[-2:]), self.patch_size
        if size[0] % patch or size[1] % patch:
            raise ValueError(
                f'{self.model_name} takes images whose sides are multiples of its patch size '
                f'{patch}, got {size[0]}x{size[1]}: set the MultiCrop global_size to a multiple '
                f'of {patch} (e.g. {patch * max(1, round(size[0] / patch))}).'
            )
        rgb = x[:, band_indices(bands, self.rgb_bands)]
        rgb = rgb * self.scale + self.shift
        outputs = self._model.forward_intermediates(
            rgb,
            indices=list(self.blocks),
            return_prefix_tokens=True,
            norm=True,
            output_fmt='NCHW',
            intermediates_only=True,
        )
        return StageFeatures([p for p, _ in outputs], outputs[-1][1][:, 0])

    def verify(self) -> None:
        """Raise if the weights file changed since this teacher was built from it."""
        if self.weights_path is None:
            return
        found = sha256sum(self.weights_path)
        if found != self.weights_sha256:
            raise RuntimeError(
                f'Teacher weights {self.weights_path} changed: sha256 {found}, '
                f'expected {self.weights_sha256}.'
            )

    def get_extra_state(self) -> dict[str, str | None]:
        """Record which weights the teacher had, instead of the weights themselves."""
        return {'weights_path': self.weights_path, 'weights_sha256': self.weights_sha256}

    def set_extra_state(self, state: dict[str, str | None]) -> None:
        """On checkpoint load, refuse a teacher whose weights differ from the recorded ones."""
        if state.get('weights_sha256') != self.weights_sha256:
            raise RuntimeError(
                f'The checkpoint was trained with teacher weights {state.get("weights_path")} '
                f'(sha256 {state.get("weights_sha256")}), but this teacher has '
                f"{self.weights_path} (sha256 {self.weights_sha256}). Point the teacher's "
                '`weights` at the file the run was trained with, or start a new run instead of '
                'resuming this one.'
            )

    def extra_repr(self) -> str:
        return f'{self.model_name}, weights={self.weights_path}, blocks={list(self.blocks)}'


def _input_affine(
    normalization: str | Sequence[Sequence[float]] | None,
    input_mean: Sequence[float] | None,
    input_std: Sequence[float] | None,
) -> tuple[Tensor, Tensor]:
    """Fold "undo the input standardisation, apply the teacher's" into ``x * scale + shift``."""
    if (input_mean is None) != (input_std is None):
        raise ValueError('Give both input_mean and input_std, or neither.')
    in_mean = torch.zeros(3) if input_mean is None else _three(input_mean, 'input_mean')
    in_std = torch.ones(3) if input_std is None else _three(input_std, 'input_std')
    if normalization is None:
        mean, std = torch.zeros(3), torch.ones(3)
    elif isinstance(normalization, str):
        if normalization not in TEACHER_NORMALIZATION:
            raise ValueError(
                f'Unknown teacher normalization {normalization!r}; choose one of '
                f'{sorted(TEACHER_NORMALIZATION)}, give [mean, std], or None.'
            )
        mean, std = (torch.tensor(s) for s in TEACHER_NORMALIZATION[normalization])
    else:
        mean, std = (_three(s, 'normalization') for s in normalization)
    return in_std / std, (in_mean - mean) / std


def _three(values: Sequence[float], name: str) -> Tensor:
    if len(values) != 3:
        raise ValueError(f'{name} needs 3 values (R, G, B), got {list(values)}.')
    return torch.tensor([float(v) for v in values])


class EMATeacher(nn.Module):
    """Exponential moving average of the student body, one stem and the student's head.

    Built as a copy, then updated from the student passed to :meth:`update`; it holds no
    reference to the student, so checkpoints contain its weights once. Other stems (e.g. RGB)
    and the distillation heads are not part of it, as in DEO.

    Args:
        student: The student to copy (its other stems are left out).
        head: The student's projection head for this stem.
        stem: The stem the teacher sees (``'ms'`` in DEO).
        mode: ``'eval'`` (dtcd's default): targets without stochastic depth, whatever the
            trainer's mode. ``'train'``: the teacher follows the training mode, so its targets
            use the student's stochastic depth, as the DEO authors' code computes them (their
            EMA teacher is never put in eval mode).
    """

    def __init__(
        self,
        student: Student,
        head: nn.Module,
        stem: str = 'ms',
        mode: Literal['eval', 'train'] = 'eval',
    ):
        super().__init__()
        if mode not in ('eval', 'train'):
            raise ValueError(f"EMA teacher mode must be 'eval' or 'train', got {mode!r}.")
        self.stem = stem
        self.mode = mode
        self.backbone = student.with_stems([stem])
        self.head = copy.deepcopy(head)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> EMATeacher:
        """Stay in eval mode (drop-path would make the targets noisy) unless ``mode='train'``."""
        return super().train(mode and self.mode == 'train')

    @torch.no_grad()
    def update(self, student: Student, head: nn.Module, momentum: float) -> None:
        """``teacher ← momentum · teacher + (1 − momentum) · student``, matched by name.

        Args:
            student: The student whose body and ``stem`` are averaged in.
            head: The student head matching this teacher's head.
            momentum: 1 keeps the teacher, 0 copies the student.
        """
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f'EMA momentum must lie in [0, 1], got {momentum}.')
        ours, theirs = [], []
        for mine, source in ((self.backbone, student), (self.head, head)):
            source_params = dict(source.named_parameters())
            for name, param in mine.named_parameters():
                if name not in source_params:
                    raise KeyError(f'EMA teacher parameter {name!r} has no counterpart.')
                ours.append(param)
                theirs.append(source_params[name])
        torch._foreach_lerp_(ours, theirs, 1.0 - momentum)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        """Head output on the pooled features of ``x`` through the teacher's stem."""
        return self.head(self.backbone(x, self.stem))
