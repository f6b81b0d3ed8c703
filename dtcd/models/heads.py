"""Projection heads: DEO's L2-normalised MLP and DINO's weight-normalised prototype head.

lightly's ``DINOProjectionHead`` is close to :class:`DINOHead` but uses the deprecated
``nn.utils.weight_norm``, a fixed depth and an epoch-based freeze, and it has no counterpart of the
prototype-free DEO head; both heads are therefore written here on one shared MLP builder whose
parameter names (``mlp.0``, ``mlp.2``, …) match the DEO/DINO checkpoints.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

__all__ = ['DINOHead', 'ProjectionHead']


def _mlp(in_dim: int, hidden_dim: int, out_dim: int, num_layers: int) -> nn.Sequential:
    """Linear→GELU→…→Linear with ``num_layers`` linear layers, initialised as DINO does."""
    if num_layers < 1:
        raise ValueError(f'num_layers must be at least 1, got {num_layers}.')
    dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
    layers: list[nn.Module] = []
    for i in range(num_layers):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < num_layers - 1:
            layers.append(nn.GELU())
    mlp = nn.Sequential(*layers)
    for module in mlp:
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
    return mlp


class ProjectionHead(nn.Module):
    """DEO's projection head: an MLP without BatchNorm whose output is L2-normalised.

    DEO puts no prototype layer after it (PAPER.md §2.5): the MCR and cosine losses act on the
    normalised embedding directly. It works on any ``[..., in_dim]`` tensor, so it also maps Swin
    feature maps token-wise in NHWC layout.

    Args:
        in_dim: Input feature width.
        out_dim: Embedding width (256 for the MS head, the teacher width for distillation heads).
        hidden_dim: Width of the hidden layers.
        num_layers: Number of linear layers.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 2048, num_layers: int = 3):
        super().__init__()
        self.mlp = _mlp(in_dim, hidden_dim, out_dim, num_layers)

    def forward(self, x: Tensor) -> Tensor:
        """Project ``[..., in_dim]`` to unit-norm ``[..., out_dim]``."""
        return F.normalize(self.mlp(x), dim=-1)


class DINOHead(nn.Module):
    """DINO's prototype head: MLP to a bottleneck, L2-normalise, weight-normalised prototypes.

    The prototype layer has no bias and its weight-norm magnitude is fixed at 1 when
    ``norm_last_layer`` (the DINO default), so logits are cosines to the prototypes.

    Args:
        in_dim: Input feature width.
        out_dim: Number of prototypes.
        hidden_dim: Width of the hidden layers.
        bottleneck_dim: Width of the normalised embedding fed to the prototypes.
        num_layers: Number of linear layers before the prototype layer.
        norm_last_layer: Freeze the weight-norm magnitude of the prototype layer at 1.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int = 65536,
        hidden_dim: int = 2048,
        bottleneck_dim: int = 256,
        num_layers: int = 3,
        norm_last_layer: bool = True,
    ):
        super().__init__()
        self.mlp = _mlp(in_dim, hidden_dim, bottleneck_dim, num_layers)
        self.last_layer = weight_norm(nn.Linear(bottleneck_dim, out_dim, bias=False))
        magnitude = self.last_layer.parametrizations.weight.original0
        magnitude.data.fill_(1.0)
        magnitude.requires_grad_(not norm_last_layer)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``[..., in_dim]`` to prototype logits ``[..., out_dim]``."""
        return self.last_layer(F.normalize(self.mlp(x), dim=-1))

    def cancel_last_layer_gradients(self) -> None:
        """Drop the prototype layer's gradients; call between backward and step while frozen.

        DINO keeps the prototypes fixed for the first steps of training to stabilise it; the
        caller decides when (by optimizer step, not by epoch).
        """
        for param in self.last_layer.parameters():
            param.grad = None
