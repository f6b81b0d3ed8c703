"""ViTStudent: a timm ViT in the student interface, to pretrain a stand-in optical teacher.

DINOv3 weights cannot be downloaded here, so the ablation pretrains its own small optical
teacher on SynthEO's high-resolution RGB with dtcd's DINO objective (``SelfDistillation``),
then :func:`dtcd.models.checkpoints.export_vit_teacher` writes the timm state dict that
:class:`FrozenTeacher` loads.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import timm
from torch import Tensor, nn

from dtcd.bands import resolve_bands
from dtcd.models.features import StageFeatures
from dtcd.models.student import Student

__all__ = ['ViTStudent']

#: Maps :meth:`ViTStudent.forward_features` returns, one per evenly spaced block.
NUM_MAPS = 4


class ViTStudent(Student):
    """A timm ViT with one patch-embedding stem, read as four maps and a class token.

    All four maps are at stride 16 (the patch size): a ViT has no pyramid. They are the outputs
    of evenly spaced blocks (the last block included), after the final norm, register tokens
    dropped. The embedding is the final-norm class token, as in DINO. iBOT masking is not
    supported (``mask`` raises).

    Args:
        model_name: timm model name (the DINOv3 ViT-S/16 architecture by default).
        bands: Band names of the stem's input channels (a set name or a list).
        model_kwargs: Extra ``timm.create_model`` arguments (e.g. ``depth``, ``embed_dim``).
        stem: Name of the single stem.
    """

    def __init__(
        self,
        model_name: str = 'vit_small_patch16_dinov3',
        bands: str | Sequence[str] = 'rgb',
        model_kwargs: Mapping[str, Any] | None = None,
        stem: str = 'rgb',
    ) -> None:
        super().__init__()
        self.model_name, self.stem = model_name, stem
        self.model_kwargs = dict(model_kwargs or {})
        band_names = resolve_bands(bands)
        self.bands = {stem: band_names}
        self.model = timm.create_model(
            model_name, pretrained=False, in_chans=len(band_names), **self.model_kwargs
        )
        if getattr(self.model, 'num_prefix_tokens', 0) < 1:
            raise ValueError(f'{model_name!r} has no class token to pool.')
        depth = len(self.model.blocks)
        if depth < NUM_MAPS:
            raise ValueError(
                f'ViTStudent needs {NUM_MAPS} or more blocks; {model_name} has {depth}.'
            )
        self.blocks = [round((i + 1) * depth / NUM_MAPS) - 1 for i in range(NUM_MAPS)]
        self.embed_dim = self.num_features = int(self.model.embed_dim)
        self.feature_dims = [self.embed_dim] * NUM_MAPS

    @property
    def stems(self) -> dict[str, nn.Module]:
        """The one stem, the ViT's patch embedding (not registered twice: it lives in ``model``)."""
        return {self.stem: self.model.patch_embed}

    def config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments that rebuild this architecture."""
        return {
            'model_name': self.model_name,
            'bands': list(self.bands[self.stem]),
            'model_kwargs': self.model_kwargs,
            'stem': self.stem,
        }

    def with_stems(self, names: Sequence[str]) -> ViTStudent:
        """A deep copy (the EMA teacher's); the one stem cannot be dropped."""
        if list(names) != [self.stem]:
            raise ValueError(f'ViTStudent has the one stem {self.stem!r}; asked for {list(names)}.')
        return copy.deepcopy(self)

    def encode(
        self,
        x: Tensor,
        stem: str,
        mask: Tensor | None = None,
        mask_token: Tensor | None = None,
    ) -> StageFeatures:
        """Four final-norm NCHW maps ``[B, D, H/16, W/16]`` of evenly spaced blocks, and the
        final-norm class token of the last block (what DINO's head reads) as the embedding.

        Args:
            x: ``[B, C, H, W]`` with the stem's bands; sides multiples of the patch size.
            stem: The stem name.
            mask: Not supported (iBOT masking is Swin-only here).
            mask_token: Not supported.
        """
        if mask is not None:
            raise NotImplementedError('ViTStudent does not support iBOT masking (ibot_weight: 0).')
        if stem != self.stem:
            raise ValueError(f'Unknown stem {stem!r}; this model has the stem {self.stem!r}.')
        channels = len(self.bands[stem])
        if x.ndim != 4 or x.shape[1] != channels:
            raise ValueError(
                f'Stem {stem!r} expects [B, {channels}, H, W] input with the bands '
                f'{list(self.bands[stem])}, got shape {tuple(x.shape)}.'
            )
        outputs = self.model.forward_intermediates(
            x,
            indices=self.blocks,
            return_prefix_tokens=True,
            norm=True,
            output_fmt='NCHW',
            intermediates_only=True,
        )
        return StageFeatures([maps for maps, _ in outputs], outputs[-1][1][:, 0])

    def forward_features(
        self,
        x: Tensor,
        stem: str,
        mask: Tensor | None = None,
        mask_token: Tensor | None = None,
    ) -> list[Tensor]:
        """The maps of :meth:`encode`."""
        return self.encode(x, stem, mask, mask_token).maps

    def pool(self, last_stage: Tensor) -> Tensor:
        """Mean of a final-norm map, for readers that only have the map (not the training path)."""
        return last_stage.mean(dim=(2, 3))

    def forward(self, x: Tensor, stem: str) -> Tensor:
        """Class-token embedding ``[B, embed_dim]``."""
        return self.encode(x, stem).pooled

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """The timm model's parameter groups (timm's convention), under this module's ``model.``."""
        return {
            group: _under_model(spec) for group, spec in self.model.group_matcher(coarse).items()
        }

    def no_weight_decay(self) -> set[str]:
        """The timm model's parameters kept out of weight decay (position embedding, tokens)."""
        return {f'model.{name}' for name in self.model.no_weight_decay()}


def _under_model(spec: Any) -> Any:
    """A timm group-matcher entry (a regex or ``(regex, suffix)`` pairs) for names under
    ``model.``; the patterns' own groups are kept, so the layer ordinals are the same."""
    if spec is None:
        return None
    if isinstance(spec, str):
        return rf'^model\.(?:{spec.removeprefix("^")})'
    return [(_under_model(pattern), suffix) for pattern, suffix in spec]
