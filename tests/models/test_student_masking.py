"""Masked forward passes for iBOT: masked cells carry the mask token, not the image."""

import torch

from dtcd.models import MultiStemSwin


def tiny() -> MultiStemSwin:
    torch.manual_seed(0)
    return MultiStemSwin(
        variant=None, embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4
    ).eval()


def test_fully_masked_views_forget_their_content() -> None:
    model, token = tiny(), torch.randn(16)
    mask = torch.ones(2, 2, 2, dtype=torch.bool)  # 64 px → 2 × 2 cells of 32 px
    a = model.forward_features(torch.randn(2, 10, 64, 64), 'ms', mask, token)
    b = model.forward_features(torch.randn(2, 10, 64, 64), 'ms', mask, token)
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y)


def test_unmasked_cells_match_the_plain_pass_at_the_stem() -> None:
    model, x = tiny(), torch.randn(1, 10, 96, 96)  # 96 px → 3 × 3 cells
    mask = torch.zeros(1, 3, 3, dtype=torch.bool)
    plain = model.forward_features(x, 'ms')
    none_masked = model.forward_features(x, 'ms', mask, torch.randn(16))
    torch.testing.assert_close(plain[-1], none_masked[-1])
    mask[0, 1, 2] = True  # one 32-px cell: stride-4 tokens rows 8..15, columns 16..23
    masked = model.forward_features(x, 'ms', mask, torch.randn(16))[0]
    # Stage 1 (one non-shifted block, 4 × 4 windows) only mixes tokens inside those windows.
    inside = torch.zeros(24, 24, dtype=torch.bool)
    inside[8:16, 16:24] = True
    assert not torch.allclose(masked[..., inside], plain[0][..., inside])
    torch.testing.assert_close(masked[..., ~inside], plain[0][..., ~inside])
