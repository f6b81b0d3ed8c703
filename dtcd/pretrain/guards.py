"""What a pretraining run refuses: NaN / Inf input, losses and weights, and a resume with another
student architecture. Every refusal names the problem and the way out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

#: Student settings that do not shape the checkpoint's tensors.
NON_ARCH_KEYS = ('variant', 'drop_path_rate', 'grad_checkpointing')


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite."""


class NonFiniteWeightsError(FloatingPointError):
    """A weight became NaN or infinite; saving it would overwrite the last good checkpoint."""


def check_finite_input(images: Tensor) -> None:
    """Refuse NaN / Inf pixels, naming the (sample, band) pairs (of a multi-date batch: sample,
    date, band) that hold them."""
    if not torch.isfinite(images).all():
        bad = (~torch.isfinite(images)).flatten(-2).any(-1).nonzero().tolist()
        where = '(sample, date, band)' if images.ndim == 5 else '(sample, band)'
        raise ValueError(
            f'Non-finite pixels in the input batch at {where} {bad[:8]}: fill no-data '
            'pixels in the dataset (e.g. with the band mean) before pretraining.'
        )


def nonfinite_loss_message(
    step: int, batch_idx: int, terms: Mapping[str, Tensor], every: int
) -> str:
    """What went non-finite, where, and what to do; ``every``: steps between checks."""
    bad = [k for k, v in terms.items() if not torch.isfinite(v)]
    since = (
        ''
        if every == 1
        else ' (not checked every step, so it may have turned non-finite a few steps '
        'earlier; set `finite_check_every_n_steps: 1` to find the first one)'
    )
    return (
        f'Non-finite loss at step {step} (batch {batch_idx}): {bad}{since}. '
        'Lower the learning rate, use bf16 instead of fp16, or check the data for '
        'NaN / Inf pixels; set `nonfinite: skip` to skip such steps.'
    )


def check_finite_weights(state_dict: Mapping[str, Any], step: int) -> None:
    """Refuse to checkpoint NaN / Inf weights over the last good checkpoint."""
    tensors = {
        k: v for k, v in state_dict.items() if isinstance(v, Tensor) and v.is_floating_point()
    }
    if tensors and not torch.stack([v.isfinite().all() for v in tensors.values()]).all():
        bad = [k for k, v in tensors.items() if not v.isfinite().all()]
        raise NonFiniteWeightsError(
            f'Non-finite weights at step {step}: {bad[:8]}; not saving them over '
            'the last good checkpoint. Resume from it with a lower learning rate or bf16.'
        )


def check_same_student(saved: Any, ours: Mapping[str, Any]) -> None:
    """Refuse to resume a checkpoint whose student architecture differs from this one."""
    if not isinstance(saved, Mapping):
        return
    saved = saved.get('init_args', saved)
    keys = [k for k in ours if k not in NON_ARCH_KEYS]
    differ = {k: (saved.get(k), ours[k]) for k in keys if saved.get(k) != ours[k]}
    if differ:
        raise ValueError(
            "The checkpoint's student differs from this one (checkpoint value, value "
            f'now): {differ}. Resume with the config the run was started with (its '
            'config.yaml beside the logs), or start a new run initialised from the weights '
            'with `MultiStemSwin.from_pretrained`.'
        )
