"""A stand-in optical teacher that knows something: a small ViT taught SynthEO's materials.

DEO distils a frozen optical foundation model (DINOv3) whose features already know what
surfaces look like. No such weights can be had offline, and a randomly initialised teacher
knows nothing (it scores below an untrained student on optical tasks, issue 15). The stand-in is
the same timm architecture the demo distils, trained here on SynthEO scenes of their own random
stream (:func:`~dtcd.data.synthetic.truth.scenes_with_materials`, never a pretraining or probe
image) to predict, from RGB alone, the share of each material under every patch and in the whole
scene: supervised from the generator's truth, as a foundation model stands for knowledge the
student does not have. It sees RGB only, so the RGB twins (materials that differ outside the
visible bands) stay as confusable for it as for any optical model.

The weights are saved as a timm state dict in safetensors, which :class:`~dtcd.models.FrozenTeacher`
loads like a DINOv3 file (``weights: <path>``, ``normalization: null``: inputs arrive
standardised as the student's RGB is).

Usage: ``python -m dtcd.standin_teacher --out data/synth/standin_teacher.safetensors``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import Tensor, nn

from dtcd.bands import RGB
from dtcd.data.datamodules.pretrain import normalize_like_pretraining
from dtcd.data.synthetic.truth import NUM_MATERIALS, scenes_with_materials

#: The demo's teacher architecture (experiments/pretrain/demo.yaml).
DEMO_MODEL = 'vit_small_patch16_dinov3'
DEMO_MODEL_KWARGS: dict[str, Any] = {'depth': 4, 'embed_dim': 96, 'num_heads': 3}


class MaterialTeacher(nn.Module):
    """A timm ViT with two linear read-outs: material shares per patch and per scene."""

    def __init__(self, model_name: str, model_kwargs: Mapping[str, Any]) -> None:
        super().__init__()
        self.model = timm.create_model(model_name, pretrained=False, **model_kwargs)
        width = int(self.model.embed_dim)
        self.patch_head = nn.Linear(width, NUM_MATERIALS)
        self.scene_head = nn.Linear(width, NUM_MATERIALS)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Logits ``[B, M, h, w]`` per patch and ``[B, M]`` per scene."""
        tokens = self.model.forward_features(x)
        prefix = self.model.num_prefix_tokens
        grid = (x.shape[-2] // 16, x.shape[-1] // 16)
        patches = self.patch_head(tokens[:, prefix:]).transpose(1, 2).unflatten(2, grid)
        return patches, self.scene_head(tokens[:, 0])


def soft_cross_entropy(logits: Tensor, shares: Tensor, dim: int = 1) -> Tensor:
    """Cross-entropy against material shares (a distribution per patch or scene)."""
    return -(shares * F.log_softmax(logits, dim=dim)).sum(dim).mean()


def make_examples(seed: int, count: int, size: int) -> tuple[Tensor, Tensor]:
    """Standardised RGB ``[N, 3, S, S]`` and per-patch material shares ``[N, M, S/16, S/16]``."""
    rgb, shares = zip(*scenes_with_materials(seed, count, size), strict=True)
    images = normalize_like_pretraining(torch.from_numpy(np.stack(rgb)), RGB)
    patch_shares = F.avg_pool2d(torch.from_numpy(np.stack(shares)), 16)
    return images, patch_shares


def augment(images: Tensor, shares: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """The same random flip and quarter turn for a batch's images and share maps."""
    turns = int(torch.randint(4, (1,), generator=generator))
    if torch.rand(1, generator=generator) < 0.5:
        images, shares = images.flip(-1), shares.flip(-1)
    return images.rot90(turns, (-2, -1)), shares.rot90(turns, (-2, -1))


def patch_accuracy(teacher: MaterialTeacher, images: Tensor, shares: Tensor) -> float:
    """Share of patches whose most abundant material the teacher names."""
    with torch.no_grad():
        patches, _ = teacher(images)
    return (patches.argmax(1) == shares.argmax(1)).float().mean().item()


def train_standin_teacher(
    out: Path | str,
    model_name: str = DEMO_MODEL,
    model_kwargs: Mapping[str, Any] | None = None,
    image_size: int = 64,
    scenes: int = 1200,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
) -> dict[str, float]:
    """Train the stand-in on generated scenes and save its backbone to ``out`` (safetensors).

    Returns the held-out patch accuracy (most abundant material per patch) of the trained and
    of the untrained network, and of always naming the most common material.
    """
    start = time.perf_counter()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    images, shares = make_examples(seed, scenes, image_size)
    held_out = max(1, scenes // 6)
    train_images, train_shares = images[held_out:], shares[held_out:]
    teacher = MaterialTeacher(
        model_name, dict(DEMO_MODEL_KWARGS if model_kwargs is None else model_kwargs)
    )
    untrained = patch_accuracy(teacher, images[:held_out], shares[:held_out])
    optimizer = torch.optim.AdamW(teacher.parameters(), lr=lr, weight_decay=0.05)
    steps = epochs * -(-len(train_images) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps)
    teacher.train()
    for _ in range(epochs):
        order = torch.randperm(len(train_images), generator=generator)
        for batch in order.split(batch_size):
            x, y = augment(train_images[batch], train_shares[batch], generator)
            patches, scene = teacher(x)
            loss = soft_cross_entropy(patches, y) + soft_cross_entropy(scene, y.mean((2, 3)))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    teacher.eval()
    common = shares[held_out:].mean((0, 2, 3)).argmax()
    result = {
        'patch_accuracy': patch_accuracy(teacher, images[:held_out], shares[:held_out]),
        'untrained_patch_accuracy': untrained,
        'majority_patch_accuracy': (shares[:held_out].argmax(1) == common).float().mean().item(),
        'seconds': time.perf_counter() - start,
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in teacher.model.state_dict().items()}, str(out))
    return result


def describe(out: Path | str, result: Mapping[str, float]) -> str:
    """One line: where the teacher went and what :func:`train_standin_teacher` measured."""
    return (
        f'Stand-in optical teacher saved to {out} ({result["seconds"]:.0f} s): held-out '
        f'patch material accuracy {result["patch_accuracy"]:.3f} (untrained '
        f'{result["untrained_patch_accuracy"]:.3f}, most common material '
        f'{result["majority_patch_accuracy"]:.3f}).'
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry: train and save, print the held-out accuracies."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', type=Path, required=True)
    parser.add_argument('--scenes', type=int, default=1200)
    parser.add_argument('--epochs', type=int, default=30)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    result = train_standin_teacher(args.out, scenes=args.scenes, epochs=args.epochs, seed=args.seed)
    print(describe(args.out, result))


if __name__ == '__main__':
    main()
