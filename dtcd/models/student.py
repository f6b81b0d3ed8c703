"""MultiStemSwin: one Swin body shared by per-modality patch-embedding stems.

The body is torchvision's Swin Transformer, as in the DEO authors' model: torchvision pads each
feature map to a multiple of the window with zeros and attends to that padding, while timm's Swin
shrinks the window on small maps. Both agree at 224 px but not on 96-px crops or 64-px tiles, so
only torchvision's body runs the authors' released weights unchanged at every input size.

Parameter names follow the authors' model after ``del model.features[0]``: ``features.0`` is the
first stage, ``features.1`` the first patch merging, …, ``features.6`` the last stage, and
``norm`` the final LayerNorm; stems live under ``stems.<name>``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint
from torchvision.models.swin_transformer import SwinTransformer

from dtcd.bands import DEO10, RGB, resolve_bands
from dtcd.models.features import StageFeatures

__all__ = ['VARIANTS', 'MultiStemSwin', 'PatchStem', 'Student']

#: Stage-output positions in ``features`` (stages alternate with patch merging).
STAGE_INDICES = (0, 2, 4, 6)
PATCH_SIZE = 4


#: torchvision's variants; ``drop_path_rate`` is torchvision's default stochastic depth, which the
#: DEO authors trained with (PAPER.md §2.6).
VARIANTS: dict[str, dict[str, Any]] = {
    'swin_t': {
        'embed_dim': 96,
        'depths': (2, 2, 6, 2),
        'num_heads': (3, 6, 12, 24),
        'drop_path_rate': 0.2,
    },
    'swin_s': {
        'embed_dim': 96,
        'depths': (2, 2, 18, 2),
        'num_heads': (3, 6, 12, 24),
        'drop_path_rate': 0.3,
    },
    'swin_b': {
        'embed_dim': 128,
        'depths': (2, 2, 18, 2),
        'num_heads': (4, 8, 16, 32),
        'drop_path_rate': 0.5,
    },
}
#: torchvision's ``SwinTransformer`` default, for custom architectures.
DEFAULT_DROP_PATH_RATE = 0.1
DEFAULT_STEMS: dict[str, tuple[str, ...]] = {'ms': DEO10, 'rgb': RGB}


class PatchStem(nn.Module):
    """4×4 stride-4 patch embedding + LayerNorm for one modality, checking its band count.

    Args:
        bands: Band names the stem expects, in channel order.
        embed_dim: Output width.
    """

    def __init__(self, bands: Sequence[str], embed_dim: int):
        super().__init__()
        self.bands = tuple(bands)
        self.proj = nn.Conv2d(len(self.bands), embed_dim, kernel_size=PATCH_SIZE, stride=PATCH_SIZE)
        self.norm = nn.LayerNorm(embed_dim, eps=1e-5)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, H, W]`` → ``[B, H/4, W/4, embed_dim]`` (NHWC, as torchvision's body wants)."""
        if x.ndim != 4 or x.shape[1] != len(self.bands):
            raise ValueError(
                f'This stem expects [B, {len(self.bands)}, H, W] input with the bands '
                f'{list(self.bands)} in that order, got shape {tuple(x.shape)}.'
            )
        return self.norm(self.proj(x).permute(0, 2, 3, 1))

    @torch.no_grad()
    def for_bands(self, bands: Sequence[str]) -> PatchStem:
        """This stem over other input bands, for data that lacks some of its bands or has more.

        A band both lists share keeps its kernel; a band the stem never saw gets a zero kernel
        (the features start as pretrained, fine-tuning may learn it); a stem band absent from
        ``bands`` is dropped, which equals feeding it as 0 in standardised units: at its
        pretraining mean.
        """
        weight = self.proj.weight
        stem = PatchStem(bands, weight.shape[0]).to(weight)
        stem.proj.weight.zero_()
        for i, band in enumerate(stem.bands):
            if band in self.bands:
                stem.proj.weight[:, i] = weight[:, self.bands.index(band)]
        stem.proj.bias.copy_(self.proj.bias)
        stem.norm.load_state_dict(self.norm.state_dict())
        return stem


class Student(nn.Module):
    """What the distillation loop needs of a student network.

    Subclasses have ``stems`` (name to module), ``bands`` (stem to band names), ``embed_dim``,
    ``feature_dims`` (widths of the four maps), ``num_features`` (width of the pooled embedding),
    and :meth:`config`, :meth:`with_stems`, :meth:`forward_features` and :meth:`pool` (or their
    own :meth:`encode`). A base class rather than a Protocol so LightningCLI accepts any subclass
    as ``student``.
    """

    stems: Mapping[str, nn.Module]
    bands: dict[str, tuple[str, ...]]
    embed_dim: int
    feature_dims: list[int]
    num_features: int

    def config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments that rebuild this architecture."""
        raise NotImplementedError

    def with_stems(self, names: Sequence[str]) -> Student:
        """A deep copy keeping only the named stems, parameter names unchanged (EMA teachers)."""
        raise NotImplementedError

    def forward_features(
        self,
        x: Tensor,
        stem: str,
        mask: Tensor | None = None,
        mask_token: Tensor | None = None,
    ) -> list[Tensor]:
        """Four NCHW feature maps of ``x`` through ``stem``, shallow to deep."""
        raise NotImplementedError

    def pool(self, last_stage: Tensor) -> Tensor:
        """Pooled embedding ``[B, num_features]`` from the last map alone."""
        raise NotImplementedError

    def mask_grid(self, height: int, width: int) -> tuple[int, int]:
        """The grid of ``forward_features``'s ``mask`` for an input of ``height x width``."""
        raise NotImplementedError(f'{type(self).__name__} does not support masking.')

    def encode(
        self,
        x: Tensor,
        stem: str,
        mask: Tensor | None = None,
        mask_token: Tensor | None = None,
    ) -> StageFeatures:
        """The four maps and the embedding heads read, from one pass (arguments as
        :meth:`forward_features`); by default the embedding is :meth:`pool` of the last map."""
        maps = self.forward_features(x, stem, mask, mask_token)
        return StageFeatures(maps, self.pool(maps[-1]))


class MultiStemSwin(Student):
    """Swin body (torchvision) with one patch-embedding stem per input modality.

    Args:
        variant: ``'swin_t'``, ``'swin_s'`` or ``'swin_b'``; ``None`` when ``embed_dim``,
            ``depths`` and ``num_heads`` are all given.
        window_size: Attention window (7 is torchvision's default; the released DEO Swin-B uses 12).
        drop_path_rate: Stochastic-depth rate; ``None`` takes the variant's torchvision default.
        stems: Stem name to band-set name (``'deo10'``) or list of band names.
        embed_dim: Overrides the variant's stage-1 width.
        depths: Overrides the variant's blocks per stage.
        num_heads: Overrides the variant's attention heads per stage.
        grad_checkpointing: Recompute each stage's activations in the backward pass instead of
            storing them (less memory, about a third more compute; e.g. Swin-B at batch 64).
    """

    #: Reads a weight file into a MultiStemSwin (:meth:`from_pretrained`); set by
    #: :mod:`dtcd.models.checkpoints`.
    file_loader: ClassVar[Callable[..., MultiStemSwin] | None] = None

    def __init__(
        self,
        variant: str | None = 'swin_t',
        window_size: int = 7,
        drop_path_rate: float | None = None,
        stems: Mapping[str, str | Sequence[str]] | None = None,
        embed_dim: int | None = None,
        depths: Sequence[int] | None = None,
        num_heads: Sequence[int] | None = None,
        grad_checkpointing: bool = False,
    ):
        super().__init__()
        arch = _resolve_arch(variant, embed_dim, depths, num_heads, drop_path_rate)
        self.variant = variant
        self.window_size = window_size
        self.grad_checkpointing = grad_checkpointing
        self.drop_path_rate: float = arch['drop_path_rate']
        self.embed_dim: int = arch['embed_dim']
        self.depths: tuple[int, ...] = tuple(arch['depths'])
        self.num_heads: tuple[int, ...] = tuple(arch['num_heads'])
        self.feature_dims = [self.embed_dim * 2**i for i in range(len(self.depths))]
        self.num_features = self.feature_dims[-1]
        self.bands: dict[str, tuple[str, ...]] = {
            name: resolve_bands(spec) for name, spec in (stems or DEFAULT_STEMS).items()
        }
        if not self.bands:
            raise ValueError('MultiStemSwin needs at least one stem.')
        self.stems = nn.ModuleDict(
            {name: PatchStem(bands, self.embed_dim) for name, bands in self.bands.items()}
        )
        swin = SwinTransformer(
            patch_size=[PATCH_SIZE, PATCH_SIZE],
            embed_dim=self.embed_dim,
            depths=list(self.depths),
            num_heads=list(self.num_heads),
            window_size=[window_size, window_size],
            stochastic_depth_prob=self.drop_path_rate,
        )
        # Drop torchvision's 3-channel stem exactly as the authors did, renumbering from 0.
        self.features = nn.Sequential(*list(swin.features)[1:])
        self.norm = swin.norm

    def config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments that rebuild this architecture."""
        return {
            'variant': self.variant,
            'window_size': self.window_size,
            'drop_path_rate': self.drop_path_rate,
            'stems': {name: list(bands) for name, bands in self.bands.items()},
            'embed_dim': self.embed_dim,
            'depths': list(self.depths),
            'num_heads': list(self.num_heads),
            'grad_checkpointing': self.grad_checkpointing,
        }

    def embed(self, x: Tensor, stem: str) -> Tensor:
        """Run the named stem: ``[B, C, H, W]`` → NHWC tokens at stride 4."""
        if stem not in self.stems:
            raise ValueError(f'Unknown stem {stem!r}; this model has stems {list(self.stems)}.')
        try:
            return self.stems[stem](x)
        except ValueError as err:
            raise ValueError(f'Stem {stem!r}: {err}') from None

    def forward_features(
        self,
        x: Tensor,
        stem: str,
        mask: Tensor | None = None,
        mask_token: Tensor | None = None,
    ) -> list[Tensor]:
        """The four raw stage outputs (no final norm), NCHW, at strides 4, 8, 16 and 32.

        Args:
            x: ``[B, C, H, W]`` with the stem's bands.
            stem: Stem name.
            mask: Optional ``[B, h, w]`` bool on the stride-32 grid (``h = ceil(H / 32)``):
                masked cells have their stride-4 tokens replaced by ``mask_token`` after the stem
                (SimMIM-style masking for iBOT).
            mask_token: ``[embed_dim]`` learnable token, owned by the objective that masks.
        """
        h = self.embed(x, stem)
        if mask is not None:
            if mask_token is None:
                raise ValueError('A mask needs a mask_token to put in the masked cells.')
            cells = mask.repeat_interleave(8, dim=1).repeat_interleave(8, dim=2)
            cells = cells[:, : h.shape[1], : h.shape[2], None]
            h = torch.where(cells, mask_token.to(h.dtype), h)
        outputs = []
        checkpointing = self.grad_checkpointing and torch.is_grad_enabled()
        for i, layer in enumerate(self.features):
            h = checkpoint(layer, h, use_reentrant=False) if checkpointing else layer(h)
            if i in STAGE_INDICES:
                outputs.append(h.permute(0, 3, 1, 2))
        return outputs

    def pool(self, last_stage: Tensor) -> Tensor:
        """Final norm + global average pool of the NCHW last-stage map: ``[B, num_features]``.

        Separate from :meth:`forward` so a training step reuses one pass for both the maps and
        the pooled embedding (:meth:`encode`).
        """
        return self.norm(last_stage.permute(0, 2, 3, 1)).mean(dim=(1, 2))

    def forward(self, x: Tensor, stem: str) -> Tensor:
        """Pooled, normalised embedding ``[B, num_features]`` (the DEO "class token")."""
        return self.pool(self.forward_features(x, stem)[-1])

    def body_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the shared body (all stages and the final norm), without stems."""
        yield from self.features.parameters()
        yield from self.norm.parameters()

    def with_stems(self, names: Sequence[str]) -> MultiStemSwin:
        """A deep copy that keeps only the named stems, parameter names unchanged.

        An EMA teacher copies "body + ms stem" this way; equal names let it pair its parameters
        with the student's by name.
        """
        unknown = [n for n in names if n not in self.stems]
        if unknown:
            raise ValueError(f'Unknown stem(s) {unknown}; this model has stems {list(self.stems)}.')
        clone = copy.deepcopy(self)
        for name in list(clone.stems):
            if name not in names:
                del clone.stems[name]
                del clone.bands[name]
        return clone

    def for_bands(self, stem: str, bands: Sequence[str]) -> MultiStemSwin:
        """A copy with only ``stem``, rebuilt for input ``bands`` (:meth:`PatchStem.for_bands`)."""
        clone = self.with_stems([stem])
        clone.stems[stem] = clone.stems[stem].for_bands(resolve_bands(bands))
        clone.bands[stem] = clone.stems[stem].bands
        return clone

    @torch.no_grad()
    def init_stem_from_rgb(self, stem: str, rgb_weight: Tensor, rgb_bias: Tensor) -> None:
        """Initialise a stem from a 3-channel (R, G, B) pretrained stem by band name.

        B04, B03 and B02 take the R, G and B kernels; every other band takes their mean. Unlike
        timm's cyclic tiling (channel i ← kernel i mod 3), no band inherits an unrelated colour.
        Kernels are not rescaled: the LayerNorm after the conv cancels any common scale.

        Args:
            stem: Name of the stem to initialise.
            rgb_weight: ``[embed_dim, 3, 4, 4]`` kernel whose channels are R, G, B.
            rgb_bias: ``[embed_dim]`` bias.
        """
        target = self.stems[stem].proj
        expected = (self.embed_dim, 3, PATCH_SIZE, PATCH_SIZE)
        if tuple(rgb_weight.shape) != expected:
            raise ValueError(
                f'RGB stem weight must have shape {expected}, got {tuple(rgb_weight.shape)}.'
            )
        mean_kernel = rgb_weight.mean(dim=1)
        kernels = [
            rgb_weight[:, RGB.index(band)] if band in RGB else mean_kernel
            for band in self.bands[stem]
        ]
        target.weight.copy_(torch.stack(kernels, dim=1))
        target.bias.copy_(rgb_bias)

    def mask_grid(self, height: int, width: int) -> tuple[int, int]:
        """The stride-32 grid of the last stage, on which masked cells are chosen."""
        return -(-height // 32), -(-width // 32)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """Parameter groups in timm's convention, for ``timm.optim.param_groups_layer_decay``.

        The stems are the first layer and each block one more; a patch merging joins the first
        block of the stage it feeds, and the final norm is the top layer (``coarse``: one group
        per stage, its patch merging included).
        """
        # A patch merging takes the ordinal of the stage it feeds (of its first block).
        merging = [
            (rf'^features\.{p - 1}\.', (p,) if coarse else (p, 0)) for p in STAGE_INDICES[1:]
        ]
        stage = r'^features\.(\d+)\.' if coarse else r'^features\.(\d+)\.(\d+)\.'
        return {'stem': r'^stems\.', 'blocks': [*merging, (stage, None)], 'norm': r'^norm\.'}

    def no_weight_decay(self) -> set[str]:
        """Parameters timm's optimizer factory keeps out of weight decay: the relative-position
        tables (as for timm's Swin); 1-D parameters are excluded by the factory itself."""
        return {n for n, _ in self.named_parameters() if n.endswith('relative_position_bias_table')}

    @classmethod
    def from_pretrained(cls, path: str | Path, prefix: str = 'student.') -> MultiStemSwin:
        """Load a dtcd Lightning checkpoint, an exported ``.safetensors`` or the DEO weights.

        The reading is :func:`dtcd.models.checkpoints.load_backbone`, which that module installs
        as :attr:`file_loader` when it is imported (``import dtcd.models`` does), so that it
        imports this module and never the reverse.

        Args:
            path: The file.
            prefix: Key prefix of the student inside a Lightning checkpoint's ``state_dict``.
        """
        if MultiStemSwin.file_loader is None:
            raise RuntimeError('import dtcd.models.checkpoints to load MultiStemSwin weights.')
        return MultiStemSwin.file_loader(path, prefix=prefix)


def _resolve_arch(
    variant: str | None,
    embed_dim: int | None,
    depths: Sequence[int] | None,
    num_heads: Sequence[int] | None,
    drop_path_rate: float | None,
) -> dict[str, Any]:
    """Merge a named variant with explicit overrides, checking that the result is complete."""
    if variant is None:
        base: dict[str, Any] = {'drop_path_rate': DEFAULT_DROP_PATH_RATE}
    elif variant in VARIANTS:
        base = dict(VARIANTS[variant])
    else:
        raise ValueError(f'Unknown Swin variant {variant!r}; choose one of {sorted(VARIANTS)}.')
    overrides = {
        'embed_dim': embed_dim,
        'depths': depths,
        'num_heads': num_heads,
        'drop_path_rate': drop_path_rate,
    }
    arch = base | {k: v for k, v in overrides.items() if v is not None}
    missing = [k for k in ('embed_dim', 'depths', 'num_heads') if k not in arch]
    if missing:
        raise ValueError(f'variant=None needs explicit {missing}.')
    if len(arch['depths']) != 4 or len(arch['num_heads']) != 4:
        raise ValueError(
            f'depths and num_heads need one entry per stage (4), got {list(arch["depths"])} '
            f'and {list(arch["num_heads"])}.'
        )
    return arch
