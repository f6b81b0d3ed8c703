"""The one output type of every encoder pass dtcd runs: stage maps and the pooled embedding.

Students (:meth:`Student.encode <dtcd.models.Student.encode>`), the frozen teachers and the probe
backbones all hand over a :class:`StageFeatures`, so a loss, a head or a probe reads maps and
embedding the same way whoever computed them, and both come from one pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

__all__ = ['StageFeatures']


@dataclass(frozen=True)
class StageFeatures:
    """Feature maps, shallow to deep, and the embedding pooled from the same pass.

    Attributes:
        maps: NCHW maps ``[B, C_s, h_s, w_s]``: a Swin's four stages at strides 4-32, a ViT's
            chosen blocks at its patch stride.
        pooled: ``[B, D]``, what heads read: a Swin's final norm and mean of the last stage, a
            ViT's class token after the final norm.
    """

    maps: list[Tensor]
    pooled: Tensor
