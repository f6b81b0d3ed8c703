"""Cost of the optimizer-side phases on the real DEO parameter set: AdamW variants, clip, EMA.

These phases scale with the parameter count, not the batch, so they are timed alone on the
``cpu-small`` module (Swin-T student, heads, EMA copy) with random gradients: AdamW for-loop vs
``foreach`` vs ``fused``, DINO's per-parameter clip written per tensor vs stacked, and the EMA
``_foreach_lerp_``. Steps of each variant are interleaved, medians reported.

Usage: ``python -m benchmarks.optimizer_micro [--reps 5 --device cpu]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence

import torch

from benchmarks.pretrain_step import PRESETS, build_module, make_optimizer


def clip_per_tensor(grads: list[torch.Tensor], clip: float) -> None:
    """The clip as first written: two small ops per gradient."""
    norms = torch._foreach_norm(grads)
    torch._foreach_mul_(grads, [(clip / (n + 1e-6)).clamp(max=1.0) for n in norms])


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Print one row per variant (median ms); return them."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(0)
    module = build_module(PRESETS['cpu-small']).to(device)
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    grads = [p.grad for p in params]
    optimizers = {impl: make_optimizer(module, impl) for impl in ('for-loop', 'foreach', 'fused')}
    ema = module.teachers[0]
    variants: dict[str, Callable[[], object]] = {
        f'AdamW {impl}': opt.step for impl, opt in optimizers.items()
    }
    variants['clip per tensor (before)'] = lambda: clip_per_tensor(grads, 3.0)
    variants['clip stacked (module)'] = lambda: module.configure_gradient_clipping(
        optimizers['fused']
    )
    variants['EMA update (_foreach_lerp_)'] = lambda: ema.update(module.student, 0.5)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for i in range(args.reps + 1):
        for name, fn in variants.items():
            if device.type == 'cuda':
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            fn()
            if device.type == 'cuda':
                torch.cuda.synchronize(device)
            if i:
                times[name].append(time.perf_counter() - start)
    count = sum(p.numel() for p in params)
    load = ' '.join(f'{x:.2f}' for x in os.getloadavg())
    print(
        f'{len(params)} trainable tensors, {count / 1e6:.1f} M parameters, device {device}, '
        f'load average {load}; median of {args.reps} after 1 warm-up'
    )
    print('| phase | ms |\n|---|---:|')
    result = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    for name, ms in result.items():
        print(f'| {name} | {ms:.1f} |')
    return result


if __name__ == '__main__':
    main()
