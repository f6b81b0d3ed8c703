"""Projection heads: DEO's normalised MLP and DINO's weight-normalised prototypes."""

import torch
from torch import nn

from dtcd.models import DINOHead, ProjectionHead


def test_projection_head_layout_and_init() -> None:
    head = ProjectionHead(48, 16, hidden_dim=32)
    assert [type(m) for m in head.mlp] == [nn.Linear, nn.GELU, nn.Linear, nn.GELU, nn.Linear]
    assert set(head.state_dict()) == {f'mlp.{i}.{p}' for i in (0, 2, 4) for p in ('weight', 'bias')}
    for layer in head.mlp[::2]:
        assert torch.all(layer.bias == 0)
        assert 0.015 < layer.weight.std() < 0.025


def test_projection_head_is_token_wise_and_unit_norm() -> None:
    head = ProjectionHead(48, 16, hidden_dim=32)
    tokens = torch.randn(2, 5, 7, 48)  # NHWC Swin map
    out = head(tokens)
    assert out.shape == (2, 5, 7, 16)
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(2, 5, 7))
    torch.testing.assert_close(out[1, 3, 4], head(tokens[1, 3, 4]))


def test_dino_head_prototypes_are_unit_norm_and_frozen_magnitude() -> None:
    head = DINOHead(48, out_dim=100, hidden_dim=32, bottleneck_dim=8)
    logits = head(torch.randn(4, 48))
    assert logits.shape == (4, 100)
    assert logits.abs().max() <= 1 + 1e-5  # cosines: unit bottleneck · unit prototypes
    magnitude = head.last_layer.parametrizations.weight.original0
    assert not magnitude.requires_grad
    assert head.last_layer.bias is None
    assert DINOHead(
        48, 100, 32, 8, norm_last_layer=False
    ).last_layer.parametrizations.weight.original0.requires_grad


def test_dino_head_cancel_last_layer_gradients() -> None:
    head = DINOHead(48, out_dim=100, hidden_dim=32, bottleneck_dim=8)
    head(torch.randn(4, 48)).sum().backward()
    head.cancel_last_layer_gradients()
    assert all(p.grad is None for p in head.last_layer.parameters())
    assert all(p.grad is not None for p in head.mlp.parameters())
