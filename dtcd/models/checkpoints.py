"""Backbone files in and out: the DEO authors' weights, dtcd checkpoints, safetensors exports.

Every loader is strict (ANCHORS.md pitfall 13): the architecture is read from the tensors
themselves (widths, depths, heads, and the window from the relative-position tables), checked
against what the caller asked for, and every parameter must be filled by a key of the file and
every key of the file used or skipped by name.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, overload

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

import dtcd
from dtcd.bands import DEO10, RGB
from dtcd.models.heads import ProjectionHead
from dtcd.models.student import PATCH_SIZE, STAGE_INDICES, VARIANTS, MultiStemSwin

__all__ = [
    'DEO_HEADS',
    'architecture',
    'export_backbone',
    'export_config',
    'export_info',
    'export_vit_teacher',
    'load_backbone',
    'load_deo_weights',
]

#: Band order of the authors' stems ``conv_ms`` and ``conv_rgb`` (PAPER.md §2.6).
DEO_STEM_BANDS: dict[str, tuple[str, ...]] = {'ms': DEO10, 'rgb': RGB}
#: The authors' projection heads (3-layer MLPs ``mlp.0/2/4``, PAPER.md §2.5).
DEO_HEADS = ('head_ms', 'cls_head', 'patch_head_mid', 'patch_head_late')
#: Wrapper names the authors' downstream loader strips (DDP, DINO's wrapper, torch.compile).
_WRAPPER_NAMES = {'module', 'backbone', '_orig_mod'}
#: torchvision's ImageNet classifier, left in the model and unused by DEO.
_TORCHVISION_CLASSIFIER = {'head.weight', 'head.bias'}
_DEO_STEM_KEY = re.compile(r'conv_(?P<stem>\w+)\.(?P<layer>[02])\.(?P<param>weight|bias)')
_EXPORT_FORMAT = 'dtcd.MultiStemSwin'
_ARCH_KEYS = ('embed_dim', 'depths', 'num_heads')


@overload
def load_deo_weights(
    path: str | Path,
    variant: str | None,
    window_size: int | None = ...,
    load_heads: Literal[False] = ...,
) -> MultiStemSwin: ...


@overload
def load_deo_weights(
    path: str | Path,
    variant: str | None,
    window_size: int | None = ...,
    load_heads: Literal[True] = ...,
) -> tuple[MultiStemSwin, dict[str, ProjectionHead]]: ...


def load_deo_weights(
    path: str | Path,
    variant: str | None,
    window_size: int | None = None,
    load_heads: bool = False,
) -> MultiStemSwin | tuple[MultiStemSwin, dict[str, ProjectionHead]]:
    """Load the DEO authors' released student (torchvision Swin, stems ``conv_ms``/``conv_rgb``).

    Args:
        path: Their ``.pth`` file: ``{'student': state_dict, ...}`` or a bare state dict.
        variant: The Swin variant the file must hold; ``None`` trusts the file.
        window_size: The window the file must use; ``None`` takes it from the file.
        load_heads: Also return the projection heads found in the file, by their DEO name.

    Raises:
        ValueError: The file holds another architecture, or keys dtcd does not recognise.
    """
    return _from_deo_state(_student_state(_torch_load(path)), variant, window_size, load_heads)


def load_backbone(path: str | Path, prefix: str = 'student.') -> MultiStemSwin:
    """Load a :class:`MultiStemSwin` from any file format dtcd knows, detected from its content.

    Args:
        path: An exported ``.safetensors``, a dtcd Lightning checkpoint, a bare dtcd state dict,
            or the DEO authors' weights.
        prefix: Key prefix of the student inside a Lightning checkpoint's ``state_dict``.
    """
    path = Path(path)
    if path.suffix == '.safetensors':
        return _load_export(path)
    return _backbone_from(_torch_load(path), path, prefix)


def _backbone_from(ckpt: Any, path: Path, prefix: str) -> MultiStemSwin:
    """The student of a loaded (non-safetensors) weights file, by its layout."""
    if not isinstance(ckpt, Mapping):
        raise ValueError(f'{path} holds a {type(ckpt).__name__}, not a checkpoint dict.')
    if 'state_dict' in ckpt:  # Lightning checkpoint
        state = _under_prefix(ckpt['state_dict'], prefix, path)
        config = _config_from_hparams(ckpt.get('hyper_parameters') or {}, prefix)
        return _from_dtcd_state(state, config)
    if 'student' in ckpt or any(_strip_wrappers(k).startswith('conv_') for k in ckpt):
        return _from_deo_state(_student_state(ckpt), None, None, False)
    if prefix and any(k.startswith(prefix) for k in ckpt):
        return _from_dtcd_state(_under_prefix(ckpt, prefix, path))
    return _from_dtcd_state(ckpt)


def export_backbone(
    checkpoint: str | Path, out: str | Path, prefix: str = 'student.', license: str | None = None
) -> Path:
    """Write the student (body + stems) of ``checkpoint`` as safetensors with its architecture.

    The metadata lets :func:`load_backbone` rebuild the model without dtcd's training code, and
    the integrations (timm, TorchGeo) feed it as it was trained: the architecture (variant,
    window, widths, depths, heads, band names per stem), ``patch_size``, ``normalization`` (per
    band, the mean and std of the run's data module, when the checkpoint has them), ``recipe``
    (the teachers' classes), ``license`` and the dtcd version.
    """
    checkpoint = Path(checkpoint)
    info: dict[str, Any] = {'patch_size': PATCH_SIZE, 'license': 'unspecified'}
    if checkpoint.suffix == '.safetensors':  # a re-export keeps what the export recorded
        model = _load_export(checkpoint)
        info |= export_info(checkpoint)
    else:
        ckpt = _torch_load(checkpoint)  # read once: weights and what the run recorded
        model = _backbone_from(ckpt, checkpoint, prefix)
        info |= _run_info(ckpt) if isinstance(ckpt, Mapping) else {}
    if license:
        info['license'] = license
    metadata = {'format': _EXPORT_FORMAT, 'dtcd_version': dtcd.__version__}
    metadata |= {key: json.dumps(value) for key, value in (model.config() | info).items()}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out, metadata=metadata)
    return out


def _run_info(ckpt: Mapping[str, Any]) -> dict[str, Any]:
    """What a Lightning checkpoint says of its run: normalisation and teachers."""
    info: dict[str, Any] = {}
    for value in ckpt.values():  # Lightning keeps the data module's state under its class name
        if isinstance(value, Mapping) and value.get('normalization'):
            info['normalization'] = {band: list(ms) for band, ms in value['normalization'].items()}
    if isinstance(ckpt.get('dtcd_recipe'), Mapping):  # DistillationModule.on_save_checkpoint
        info['recipe'] = dict(ckpt['dtcd_recipe'])
    return info


def export_vit_teacher(
    checkpoint: str | Path, out: str | Path, prefix: str = 'student.model.'
) -> Path:
    """Write the timm ViT of a dtcd checkpoint as a ``.safetensors`` :class:`FrozenTeacher` loads.

    Args:
        checkpoint: A Lightning checkpoint of a ``DistillationModule`` with a
            :class:`~dtcd.models.ViTStudent`.
        out: The ``.safetensors`` file to write.
        prefix: Key prefix of the timm model in the checkpoint's ``state_dict``: the student's
            by default; ``'teachers.0.teacher.backbone.model.'`` takes the EMA teacher's (the one
            DINO evaluates) when the first teacher is the ``SelfDistillation``.
    """
    state = _torch_load(checkpoint)['state_dict']
    weights = {k[len(prefix) :]: v.contiguous() for k, v in state.items() if k.startswith(prefix)}
    if not weights:
        raise KeyError(f'No {prefix}* weights in {checkpoint}: is its student a ViTStudent?')
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(out))
    return out


def _torch_load(path: str | Path) -> Any:
    """``torch.load`` without arbitrary unpickling; DINO-style ``args`` namespaces are allowed."""
    with torch.serialization.safe_globals([argparse.Namespace]):
        return torch.load(path, map_location='cpu', weights_only=True)


def _student_state(ckpt: Mapping[str, Any]) -> Mapping[str, Tensor]:
    return ckpt['student'] if 'student' in ckpt else ckpt


def _strip_wrappers(key: str) -> str:
    return '.'.join(part for part in key.split('.') if part not in _WRAPPER_NAMES)


def _from_deo_state(
    state: Mapping[str, Tensor], variant: str | None, window_size: int | None, load_heads: bool
) -> Any:
    """Map the authors' key names onto dtcd's and build the model they describe."""
    body: dict[str, Tensor] = {}
    stems: dict[str, Tensor] = {}
    heads: dict[str, dict[str, Tensor]] = {}
    unknown = []
    for raw_key, value in state.items():
        key = _strip_wrappers(raw_key)
        head, _, rest = key.partition('.')
        if key.startswith(('features.', 'norm.')):
            body[key] = value
        elif match := _DEO_STEM_KEY.fullmatch(key):
            layer = 'proj' if match['layer'] == '0' else 'norm'
            stems[f'stems.{match["stem"]}.{layer}.{match["param"]}'] = value
        elif head in DEO_HEADS:
            heads.setdefault(head, {})[rest] = value
        elif key not in _TORCHVISION_CLASSIFIER:
            unknown.append(raw_key)
    if unknown:
        raise ValueError(
            f'Unrecognised key(s) in the DEO weights: {unknown}. dtcd knows the Swin body '
            f'(features.*, norm.*), the stems conv_<name>.0/.2 and the heads {list(DEO_HEADS)}.'
        )
    arch = _infer_body(body)
    _check_requested(arch, variant, window_size)
    stem_bands = {}
    for key, weight in stems.items():
        name = key.split('.')[1]
        if key.endswith('proj.weight'):
            stem_bands[name] = _default_bands(name, weight.shape[1])
    model = _instantiate(_arch_config(arch, stem_bands), body | stems)
    if not load_heads:
        return model
    return model, {name: _projection_head(name, params) for name, params in heads.items()}


def _default_bands(stem: str, channels: int) -> tuple[str, ...]:
    """Band order of a stem known only by name and channel count: the DEO stems' orders."""
    bands = DEO_STEM_BANDS.get(stem)
    if bands is None or len(bands) != channels:
        raise ValueError(
            f'Cannot tell the band order of stem {stem!r} ({channels} input channels) from the '
            f'tensors alone; known stems: { {k: list(v) for k, v in DEO_STEM_BANDS.items()} }. '
            "Save the student's constructor arguments (hyper_parameters) with the checkpoint."
        )
    return bands


def _projection_head(name: str, params: Mapping[str, Tensor]) -> ProjectionHead:
    """Rebuild one of the authors' heads from its ``mlp.<i>.weight`` shapes."""
    weights = sorted(
        (int(k.split('.')[1]), v) for k, v in params.items() if re.fullmatch(r'mlp\.\d+\.weight', k)
    )
    if not weights:
        raise ValueError(f'Head {name!r} has no mlp.<i>.weight keys: {sorted(params)}.')
    head = ProjectionHead(
        in_dim=weights[0][1].shape[1],
        out_dim=weights[-1][1].shape[0],
        hidden_dim=weights[0][1].shape[0],
        num_layers=len(weights),
    )
    head.load_state_dict(params, strict=True)
    return head


def _infer_body(state: Mapping[str, Tensor]) -> dict[str, Any]:
    """Read width, depths, heads and window of a torchvision Swin body from its tensors."""
    if 'features.0.0.norm1.weight' not in state:
        raise ValueError('No Swin body found: the key features.0.0.norm1.weight is missing.')
    depths, num_heads, windows = [], [], set()
    for index in STAGE_INDICES:
        blocks = {int(k.split('.')[2]) for k in state if k.startswith(f'features.{index}.')}
        if not blocks:
            raise ValueError(f'No Swin stage found at features.{index}.')
        depths.append(max(blocks) + 1)
        table = state[f'features.{index}.0.attn.relative_position_bias_table']
        num_heads.append(table.shape[1])
        side = math.isqrt(table.shape[0])
        if side * side != table.shape[0] or side % 2 == 0:
            raise ValueError(f'A relative-position table of {table.shape[0]} rows is not (2w-1)².')
        windows.add((side + 1) // 2)
    if len(windows) != 1:
        raise ValueError(f'Stages use different window sizes {sorted(windows)}.')
    return {
        'embed_dim': state['features.0.0.norm1.weight'].shape[0],
        'depths': depths,
        'num_heads': num_heads,
        'window_size': windows.pop(),
    }


def _match_variant(arch: Mapping[str, Any]) -> str | None:
    """The name of the torchvision variant with this width, depths and heads, if any."""
    for name, spec in VARIANTS.items():
        if all(_as_list(spec[k]) == _as_list(arch[k]) for k in _ARCH_KEYS):
            return name
    return None


def _as_list(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


def _describe(arch: Mapping[str, Any]) -> str:
    return ', '.join(f'{k}={arch[k]}' for k in _ARCH_KEYS)


def _check_requested(arch: dict[str, Any], variant: str | None, window_size: int | None) -> None:
    """Raise when the file holds another variant or window than the caller asked for."""
    found = _match_variant(arch) or 'a custom Swin'
    if variant is not None:
        if variant not in VARIANTS:
            raise ValueError(f'Unknown Swin variant {variant!r}; choose one of {sorted(VARIANTS)}.')
        if _match_variant(arch) != variant:
            raise ValueError(
                f'The weights hold {found} ({_describe(arch)}), but variant={variant!r} '
                f'({_describe(VARIANTS[variant])}) was requested.'
            )
    if window_size is not None and window_size != arch['window_size']:
        side = 2 * arch['window_size'] - 1
        raise ValueError(
            f'The weights use window_size={arch["window_size"]} (relative-position tables of '
            f'{side}² rows), but window_size={window_size} was requested.'
        )


def _arch_config(
    arch: Mapping[str, Any], stem_bands: Mapping[str, tuple[str, ...]]
) -> dict[str, Any]:
    """:class:`MultiStemSwin` arguments for an inferred body and its stems."""
    return {
        'variant': _match_variant(arch),
        'window_size': arch['window_size'],
        'stems': {name: list(bands) for name, bands in stem_bands.items()},
        'embed_dim': arch['embed_dim'],
        'depths': arch['depths'],
        'num_heads': arch['num_heads'],
    }


def _instantiate(config: Mapping[str, Any], state: Mapping[str, Tensor]) -> MultiStemSwin:
    """Build on the meta device and take the file's tensors: no random init to throw away.

    Strict: a missing, unexpected or mis-shaped key raises. Weights come out in float32.
    """
    with torch.device('meta'):
        model = MultiStemSwin(**config)
    model.load_state_dict(state, strict=True, assign=True)
    return model.float()


def _under_prefix(state: Mapping[str, Tensor], prefix: str, path: Path) -> dict[str, Tensor]:
    selected = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if not selected:
        tops = sorted({k.split('.')[0] + '.' for k in state})
        raise ValueError(f'No keys under prefix {prefix!r} in {path}; its top-level keys: {tops}.')
    return selected


def _config_from_hparams(hparams: Mapping[str, Any], prefix: str) -> dict[str, Any] | None:
    """The student's constructor arguments if the LightningModule saved them.

    LightningCLI stores a sub-module argument as ``{'class_path': ..., 'init_args': {...}}``;
    a plain dict of :class:`MultiStemSwin` arguments is accepted too.
    """
    entry = hparams.get(prefix.rstrip('.'))
    if not isinstance(entry, Mapping):
        return None
    if 'class_path' in entry:
        if not entry['class_path'].endswith('MultiStemSwin'):
            raise ValueError(
                f"The checkpoint's {prefix.rstrip('.')} is a {entry['class_path']}, not a "
                'MultiStemSwin. A ViTStudent is exported with `dtcd export CKPT OUT --timm` '
                '(or dtcd.models.export_vit_teacher) and probed as timm:<model> with '
                'backbone_weights.'
            )
        return dict(entry.get('init_args') or {})
    return dict(entry)


def _from_dtcd_state(
    state: Mapping[str, Tensor], config: Mapping[str, Any] | None = None
) -> MultiStemSwin:
    """Build from saved constructor arguments, or infer them from the tensors, then load."""
    if config is None:
        stem_bands = {
            key.split('.')[1]: _default_bands(key.split('.')[1], value.shape[1])
            for key, value in state.items()
            if re.fullmatch(r'stems\.\w+\.proj\.weight', key)
        }
        config = _arch_config(_infer_body(state), stem_bands)
    return _instantiate(config, state)


#: Export metadata that describes the run rather than the architecture.
_INFO_KEYS = ('patch_size', 'normalization', 'recipe', 'license')


def _export_metadata(path: str | Path) -> dict[str, Any]:
    with safe_open(str(path), framework='pt') as f:
        metadata = f.metadata() or {}
    if metadata.get('format') != _EXPORT_FORMAT:
        raise ValueError(
            f'{path} is not a dtcd export (metadata format={metadata.get("format")!r}); '
            'write one with `dtcd export CHECKPOINT OUT.safetensors`.'
        )
    return {k: json.loads(v) for k, v in metadata.items() if k not in ('format', 'dtcd_version')}


def export_config(path: str | Path) -> dict[str, Any]:
    """The constructor arguments a ``dtcd export`` file records (no tensors are read)."""
    config = {k: v for k, v in _export_metadata(path).items() if k not in _INFO_KEYS}
    stems = config.get('stems')
    if not isinstance(stems, dict) or not stems or not all(stems.values()):
        raise ValueError(
            f'{path}: its metadata names no band list for some stem (stems={stems!r}); without '
            'them no input can be matched by band name. Export it again with `dtcd export`.'
        )
    return config


def architecture(path: str | Path) -> dict[str, Any]:
    """The constructor arguments of the student a weight file holds: read from an export's
    metadata alone, else from the loaded student (a dtcd checkpoint, the DEO weights)."""
    if Path(path).suffix == '.safetensors':
        return export_config(path)
    return load_backbone(path).config()


def export_info(path: str | Path) -> dict[str, Any]:
    """What a ``dtcd export`` file records of its run: ``patch_size``, ``normalization`` (band
    -> [mean, std]), ``recipe``, ``license`` (those it has)."""
    return {k: v for k, v in _export_metadata(path).items() if k in _INFO_KEYS}


def _load_export(path: Path) -> MultiStemSwin:
    config = export_config(path)
    with safe_open(str(path), framework='pt') as f:
        state = {key: f.get_tensor(key) for key in f.keys()}
    return _from_dtcd_state(state, config)


# MultiStemSwin.from_pretrained reads files through this module, which imports the student
# module; installing the loader here keeps the imports one-way (checkpoints -> student).
MultiStemSwin.file_loader = load_backbone
