"""Shared builders: tiny students and a replica of the DEO authors' student model."""

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn
from torchvision.models.swin_transformer import SwinTransformer
from torchvision.ops.misc import Permute

from dtcd.models import VARIANTS, MultiStemSwin

TINY = {'variant': None, 'embed_dim': 24, 'depths': (1, 1, 1, 1), 'num_heads': (1, 2, 3, 4)}


@pytest.fixture
def tiny_config() -> dict:
    """Constructor arguments of a tiny custom Swin (final width 192)."""
    return dict(TINY)


@pytest.fixture
def tiny_student() -> MultiStemSwin:
    torch.manual_seed(0)
    return MultiStemSwin(**TINY).eval()


class DEOReference(nn.Module):
    """The authors' student as PAPER.md §2.6 describes it, written independently of dtcd.

    torchvision's Swin with ``features[0]`` deleted, stems ``conv_ms``/``conv_rgb`` added, and
    a DINO-style wrapper holding it as ``backbone`` next to the four projection heads.
    """

    def __init__(
        self, variant: str, window_size: int, head_hidden: int = 32, distill_dim: int = 12
    ):
        super().__init__()
        spec = VARIANTS[variant]
        dim = spec['embed_dim']
        swin = SwinTransformer(
            patch_size=[4, 4],
            embed_dim=dim,
            depths=list(spec['depths']),
            num_heads=list(spec['num_heads']),
            window_size=[window_size, window_size],
            stochastic_depth_prob=spec['drop_path_rate'],
        )
        del swin.features[0]
        swin.conv_ms = nn.Sequential(
            nn.Conv2d(10, dim, 4, 4), Permute([0, 2, 3, 1]), nn.LayerNorm(dim)
        )
        swin.conv_rgb = nn.Sequential(
            nn.Conv2d(3, dim, 4, 4), Permute([0, 2, 3, 1]), nn.LayerNorm(dim)
        )
        with torch.no_grad():  # make every LayerNorm and bias table matter
            for name, param in swin.named_parameters():
                if 'norm' in name or 'relative_position_bias_table' in name:
                    param.add_(torch.randn_like(param) * 0.1)
        self.backbone = swin
        final = dim * 8
        for name, in_dim, out_dim in (
            ('head_ms', final, 16),
            ('cls_head', final, distill_dim),
            ('patch_head_mid', dim * 4, distill_dim),
            ('patch_head_late', final, distill_dim),
        ):
            head = nn.Module()
            head.mlp = nn.Sequential(
                nn.Linear(in_dim, head_hidden),
                nn.GELU(),
                nn.Linear(head_hidden, head_hidden),
                nn.GELU(),
                nn.Linear(head_hidden, out_dim),
            )
            setattr(self, name, head)
        self.eval()

    def stage_features(self, x: Tensor, stem: str) -> list[Tensor]:
        """What the authors' feature extractor returns: features [0, 2, 4, 6], NCHW."""
        h = getattr(self.backbone, f'conv_{stem}')(x)
        outputs = []
        for i, layer in enumerate(self.backbone.features):
            h = layer(h)
            if i in (0, 2, 4, 6):
                outputs.append(h.permute(0, 3, 1, 2))
        return outputs

    def save(self, path: Path) -> Path:
        """Save as released: ``{'student': state_dict}`` with DDP ``module.`` prefixes."""
        state = {f'module.{k}': v for k, v in self.state_dict().items()}
        torch.save({'student': state, 'epoch': 100}, path)
        return path


@pytest.fixture(scope='session')
def deo_reference() -> Callable[[str, int], DEOReference]:
    def build(variant: str, window_size: int) -> DEOReference:
        torch.manual_seed(0)
        return DEOReference(variant, window_size)

    return build


@pytest.fixture(scope='session')
def deo_swin_t(tmp_path_factory: pytest.TempPathFactory) -> tuple[DEOReference, Path]:
    """A randomly initialised DEO Swin-T and its file in the authors' format."""
    torch.manual_seed(0)
    reference = DEOReference('swin_t', 7)
    return reference, reference.save(tmp_path_factory.mktemp('deo') / 'DEO_swin_t.pth')
