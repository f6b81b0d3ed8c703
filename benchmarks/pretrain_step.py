"""Time one DEO pretraining step by phase, to show where the cost of pretraining goes.

Runs the real :class:`~dtcd.pretrain.DistillationModule` code (multicrop, teacher targets,
``student_outputs``, teacher losses, per-parameter clipping, AdamW, teacher ``update``) outside a
Trainer so each phase can be timed on its own; on CUDA each phase boundary synchronises, which a
real step would not. Medians over ``--steps`` steps after ``--warmup`` steps, in fp32 and bf16
autocast (as Lightning's ``bf16-mixed``: autocast around the forward, backward outside).

In the same run it times the reference's per-sample augmentation
(:mod:`benchmarks.reference_augment`) against dtcd's batched :class:`~dtcd.augment.MultiCrop` on
the same batch and device, counts the step's FLOPs, and measures the machine's matmul ceiling.

The last line is ``augment_speedup=<x> overhead_fraction=<y> images_per_s=<z>`` (bf16 numbers;
``overhead_fraction`` is the share of the step outside model forward and backward).

Usage: ``python -m benchmarks.pretrain_step --preset cpu-small`` (a few minutes on 2 CPU cores),
``python -m benchmarks.pretrain_step --preset paper --device cuda``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import resource
import statistics
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.plain_step import PlainDEO, plain_losses
from benchmarks.reference_augment import ReferenceMultiCrop
from dtcd.augment import MultiCrop
from dtcd.distill import MCRObjective, OpticalDistillation, SelfDistillation
from dtcd.models import FrozenTeacher, MultiStemSwin
from dtcd.precision import X86_BF16_FLAGS, cpu_flags, cpu_has_native_bf16
from dtcd.pretrain import DistillationModule

#: Phases outside model forward and backward (the "overhead" of a step).
OVERHEAD_PHASES = ('augment', 'losses', 'optimizer', 'ema update')


@dataclass(frozen=True)
class Preset:
    """One benchmark configuration."""

    student: str | None = 'swin_t'
    teacher: str = 'vit_small_patch16_dinov3'
    blocks: tuple[int, int] = (8, 11)
    num_global: int = 2
    global_size: int = 224
    num_local: int = 4
    local_size: int = 96
    image_size: int = 256
    batch_size: int = 8
    hidden_dim: int = 2048
    out_dim: int = 256
    blur_kernel_size: int = 23
    steps: int = 3
    warmup: int = 1
    student_kwargs: tuple[tuple[str, Any], ...] = ()
    teacher_kwargs: tuple[tuple[str, Any], ...] = ()


PRESETS: dict[str, Preset] = {
    # 2 × 224 + 4 × 96 crops of 8 images: a few minutes on 2 CPU cores.
    'cpu-small': Preset(),
    # The paper's per-GPU setting (PAPER.md §2.9): ViT-B/16 teacher, 2 × 224 + 10 × 96, batch 64.
    'paper': Preset(teacher='vit_base_patch16_dinov3', num_local=10, batch_size=64, warmup=3,
                    steps=10),
}  # fmt: skip

#: ``--tiny``: the same code paths on toy sizes, for the smoke test (seconds).
TINY = {
    'student': None,
    'student_kwargs': (('embed_dim', 16), ('depths', (1, 1, 1, 1)), ('num_heads', (1, 1, 2, 2))),
    'teacher_kwargs': (('depth', 2), ('embed_dim', 48), ('num_heads', 2)),
    'blocks': (0, 1),
    'global_size': 32,
    'local_size': 16,
    'num_local': 2,
    'image_size': 40,
    'batch_size': 2,
    'hidden_dim': 32,
    'out_dim': 16,
    'blur_kernel_size': 5,
    'warmup': 0,
    'steps': 1,
}


# ------------------------------------------------------------------------------------- build
def build_module(preset: Preset, compile: bool = False) -> DistillationModule:
    """DEO's two teachers around a Swin student; the frozen teacher has random weights."""
    student_kwargs = dict(preset.student_kwargs)
    if preset.student is None:
        student_kwargs['window_size'] = 4
    student = MultiStemSwin(preset.student, **student_kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # "RANDOM weights": expected, timing only
        frozen = FrozenTeacher(
            preset.teacher,
            weights=None,
            blocks=preset.blocks,
            normalization=None,
            model_kwargs=dict(preset.teacher_kwargs),
        )
    teachers = [
        SelfDistillation(MCRObjective(out_dim=preset.out_dim, hidden_dim=preset.hidden_dim)),
        OpticalDistillation(frozen, hidden_dim=preset.hidden_dim),
    ]
    multicrop = MultiCrop(
        num_global=preset.num_global,
        global_size=preset.global_size,
        num_local=preset.num_local,
        local_size=preset.local_size,
        blur_kernel_size=preset.blur_kernel_size,
    )
    return DistillationModule(student, teachers, multicrop, compile=compile)


def make_optimizer(module: DistillationModule, impl: str) -> torch.optim.Optimizer:
    """The module's own AdamW, or the same groups with a forced implementation."""
    optimizer = module.configure_optimizers()
    if impl == 'module':
        return optimizer
    flags = {
        'for-loop': {'foreach': False, 'fused': False},
        'foreach': {'foreach': True, 'fused': False},
        'fused': {'foreach': False, 'fused': True},
    }
    # Groups keep the module's choice under these keys; drop them so the forced one applies.
    keep = ('params', 'lr', 'betas', 'eps', 'weight_decay', 'apply_wd')
    groups = [{k: v for k, v in g.items() if k in keep} for g in optimizer.param_groups]
    return torch.optim.AdamW(groups, **flags[impl])


# ------------------------------------------------------------------------------------ timing
class PhaseTimer:
    """Wall time between marks; synchronises CUDA so each phase owns its kernels."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.times: dict[str, float] = {}
        self._sync()
        self._last = time.perf_counter()

    def _sync(self) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)

    def mark(self, phase: str) -> None:
        self._sync()
        now = time.perf_counter()
        self.times[phase] = self.times.get(phase, 0.0) + now - self._last
        self._last = now


class CallCounter:
    """Counts forward calls of modules, to check that nothing is recomputed within a step."""

    def __init__(self, modules: dict[str, nn.Module], enabled: bool = True) -> None:
        # Off under torch.compile: compiled hooks run at trace time, not per call.
        self.enabled = enabled
        self.counts: dict[str, int] = defaultdict(int)
        self._handles = [
            module.register_forward_pre_hook(self._hook(name)) for name, module in modules.items()
        ]

    def _hook(self, name: str) -> Callable[..., None]:
        def hook(*_: Any) -> None:
            self.counts[name] += 1

        return hook

    def reset(self) -> None:
        self.counts.clear()


@contextlib.contextmanager
def only_passes(module: DistillationModule, passes: list[Any]) -> Iterator[None]:
    """Let ``student_outputs`` run a subset of the passes, to time each (stem, view) alone."""
    saved = module.passes
    module.passes = passes
    try:
        yield
    finally:
        module.passes = saved


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast as Lightning's ``bf16-mixed``; nothing for fp32."""
    if precision == 'bf16':
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_step(
    module: DistillationModule,
    optimizer: torch.optim.Optimizer,
    images: Tensor,
    precision: str,
    timer: PhaseTimer | None = None,
) -> Tensor:
    """One optimizer step of the module's own pieces, timed by phase when ``timer`` is given."""
    mark = timer.mark if timer is not None else (lambda _: None)
    progress = 0.5
    with autocast(images.device, precision):
        views = module.multicrop(images)
        mark('augment')
        targets = []
        for teacher in module.teachers:
            targets.append(teacher.targets(views, module.multicrop.bands, progress))
            kind = 'EMA' if isinstance(teacher, SelfDistillation) else 'frozen'
            mark(f'{kind} teacher forward')
        outputs = {}
        for stem, group in module.passes:
            with only_passes(module, [(stem, group)]):
                outputs |= module.student_outputs(views)
            mark(f'student forward {stem}/{group}')
        total = images.new_zeros((), dtype=torch.float32)
        for teacher, target in zip(module.teachers, targets, strict=True):
            total = total + teacher.weight * teacher.loss(outputs, target, progress)['loss']
        mark('losses')
    total.backward()
    mark('backward')
    module.configure_gradient_clipping(optimizer)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    mark('optimizer')
    for teacher in module.teachers:
        teacher.update(module.student, progress)
    mark('ema update')
    return total.detach()


def median(values: Sequence[float]) -> float:
    """Median (robust to the other users of a shared machine)."""
    return statistics.median(values)


def peak_memory_mb(device: torch.device) -> float:
    """CUDA: peak allocated tensors; CPU: the process's peak resident set (monotonic)."""
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


def matmul_ceiling(device: torch.device, dtype: torch.dtype, size: int, reps: int = 5) -> float:
    """FLOP/s of a large square matmul: the most this machine does in ``dtype``."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    times = []
    for i in range(reps + 1):
        timer = PhaseTimer(device)
        torch.mm(a, b)
        timer.mark('mm')
        if i >= 1:
            times.append(timer.times['mm'])
    return 2 * size**3 / median(times)


def count_flops(step: Callable[[], Any]) -> int:
    """FLOPs of one whole step (matmuls, convolutions, attention), forward and backward."""
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return counter.get_total_flops()


def time_steps(
    module: DistillationModule,
    optimizer: torch.optim.Optimizer,
    images: Tensor,
    precisions: Sequence[str],
    warmup: int,
    steps: int,
    counter: CallCounter,
    matmul_size: int,
    plain: PlainDEO | None = None,
) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, float], dict[str, float]]:
    """Median seconds per phase (and ``total``) per side and precision, all interleaved.

    Interleaving (dtcd fp32 step, plain fp32 step, dtcd bf16 step, …, ceiling matmuls, repeat)
    exposes every side and precision to the same load on a shared machine; the matmul ceiling is
    measured in the same loop for the same reason. Returns the phase medians by side
    (``'dtcd'``, and ``'plain'`` when ``plain`` is given) and precision, the ceilings (FLOP/s)
    and dtcd's peak memory (MiB).
    """
    sides = ['dtcd'] + (['plain'] if plain is not None else [])
    per_phase = {s: {p: defaultdict(list) for p in precisions} for s in sides}
    ceilings: dict[str, list[float]] = {'fp32': [], 'bf16': []}
    memory: dict[str, float] = {}
    dtypes = {'fp32': torch.float32, 'bf16': torch.bfloat16}
    for i in range(warmup + steps):
        for precision in precisions:
            for side in sides:
                if images.device.type == 'cuda':
                    torch.cuda.reset_peak_memory_stats(images.device)
                counter.reset()
                timer = PhaseTimer(images.device)
                if side == 'dtcd':
                    train_step(module, optimizer, images, precision, timer)
                    if counter.enabled:
                        check_single_passes(module, counter)
                    memory[precision] = max(
                        memory.get(precision, 0.0), peak_memory_mb(images.device)
                    )
                else:
                    plain_train_step(plain, module, images, precision, timer)
                if i < warmup:
                    continue
                for phase, seconds in timer.times.items():
                    per_phase[side][precision][phase].append(seconds)
                per_phase[side][precision]['total'].append(sum(timer.times.values()))
        for name, dtype in dtypes.items():
            ceilings[name].append(matmul_ceiling(images.device, dtype, matmul_size, reps=1))
        progress_note(f'step {i + 1} of {warmup} warm-up + {steps} timed done')
    phases = {
        s: {p: {k: median(v) for k, v in per_phase[s][p].items()} for p in precisions}
        for s in sides
    }
    return phases, {k: median(v) for k, v in ceilings.items()}, memory


def plain_train_step(
    plain: PlainDEO,
    module: DistillationModule,
    images: Tensor,
    precision: str,
    timer: PhaseTimer,
) -> Tensor:
    """The same step in plain torchvision / timm code on dtcd's crops (no optimizer step)."""
    with autocast(images.device, precision):
        views = module.multicrop(images)
        timer.mark('augment')
        loss = plain_losses(plain, views, timer.mark)['loss']
    loss.backward()
    timer.mark('backward')
    plain.zero_grad(set_to_none=True)
    return loss.detach()


def check_single_passes(module: DistillationModule, counter: CallCounter) -> None:
    """The student body runs once per (stem, view group); each teacher network once."""
    expected = {'student body': len(module.passes), 'EMA teacher body': 1, 'frozen teacher': 1}
    found = {name: counter.counts.get(name, 0) for name in expected}
    if found != expected:
        raise AssertionError(f'Forward calls per step {found}, expected {expected}.')


def time_augmentation(
    module: DistillationModule, images: Tensor, preset: Preset, warmup: int, steps: int
) -> tuple[float, float]:
    """Median seconds per image of the per-sample reference and of MultiCrop, interleaved."""
    reference = ReferenceMultiCrop(
        module.multicrop.bands,
        num_global=preset.num_global,
        global_size=preset.global_size,
        num_local=preset.num_local,
        local_size=preset.local_size,
        blur_kernel_size=preset.blur_kernel_size,
    )
    ours = module.multicrop
    ref_times, our_times = [], []
    for i in range(warmup + steps):
        for fn, times in ((reference, ref_times), (ours, our_times)):
            timer = PhaseTimer(images.device)
            views = fn(images)
            timer.mark('augment')
            if i >= warmup:
                times.append(timer.times['augment'])
        assert views.global_views.shape[:2] == (preset.num_global, images.shape[0])
    batch = images.shape[0]
    return median(ref_times) / batch, median(our_times) / batch


# ------------------------------------------------------------------------------------ report
def progress_note(message: str) -> None:
    """Say what is running (steps take seconds to minutes on a CPU)."""
    print(f'[{time.strftime("%H:%M:%S")}] {message}', flush=True)


def machine_line(device: torch.device) -> str:
    """CPU model and bf16 capability, cores, threads, load average and GPU, for RESULTS.md."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open('/proc/cpuinfo') as f:
        names = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')]
        model = names[0] if names else model
    load = ' '.join(f'{x:.2f}' for x in os.getloadavg())
    gpu = torch.cuda.get_device_name(device) if device.type == 'cuda' else 'none'
    flags = sorted(cpu_flags() & {'avx2', 'avx512f', *X86_BF16_FLAGS})
    bf16 = 'native' if cpu_has_native_bf16() else 'emulated (slow: prefer fp32)'
    return (
        f'machine: {model}, {os.cpu_count()} CPUs, flags {" ".join(flags) or "unknown"}, '
        f'CPU bf16 {bf16}, torch threads {torch.get_num_threads()}, GPU {gpu}, '
        f'load average {load}, torch {torch.__version__}, '
        f'{datetime.datetime.now().isoformat(timespec="seconds")}'
    )


def phase_table(results: dict[str, dict[str, float]]) -> str:
    """Markdown table: one row per phase, milliseconds and share of the step per precision."""
    precisions = list(results)
    phases = [p for p in next(iter(results.values())) if p != 'total']
    head = '| phase | ' + ' | '.join(f'{p} ms | {p} share' for p in precisions) + ' |'
    rule = '|---|' + '---:|---:|' * len(precisions)
    rows = [head, rule]
    for phase in [*phases, 'total']:
        cells = []
        for p in precisions:
            ms = results[p].get(phase, 0.0) * 1e3
            cells.append(f'{ms:.1f} | {ms / (results[p]["total"] * 1e3):.1%}')
        rows.append(f'| {phase} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(rows)


#: Phases in which the networks run, the ones the plain baseline checks dtcd's wrappers against.
NETWORK_PHASES = ('EMA teacher forward', 'frozen teacher forward', 'student forward', 'backward')


def grouped(phases: dict[str, float]) -> dict[str, float]:
    """Phases with the per-pass student forwards summed into ``student forward``."""
    out: dict[str, float] = defaultdict(float)
    for phase, seconds in phases.items():
        out['student forward' if phase.startswith('student forward') else phase] += seconds
    return out


def baseline_table(dtcd: dict[str, dict[str, float]], plain: dict[str, dict[str, float]]) -> str:
    """Markdown table: plain and dtcd milliseconds and their ratio per phase and precision.

    ``network passes`` sums the phases in which the networks run (:data:`NETWORK_PHASES`); the
    plain step takes no optimizer step, so the step row leaves out dtcd's optimizer and EMA.
    """
    head = '| phase | ' + ' | '.join(f'{p} plain ms | {p} dtcd ms | dtcd/plain' for p in dtcd)
    rows = [head + ' |', '|---|' + '---:|---:|---:|' * len(dtcd)]
    ours = {p: grouped(v) for p, v in dtcd.items()}
    theirs = {p: grouped(v) for p, v in plain.items()}
    for side in (*ours.values(), *theirs.values()):
        side['network passes'] = sum(side[k] for k in NETWORK_PHASES)
        side['step without optimizer'] = side['network passes'] + side['augment'] + side['losses']
    names = ['augment', *NETWORK_PHASES, 'losses', 'network passes', 'step without optimizer']
    for name in names:
        cells = [
            f'{theirs[p][name] * 1e3:.1f} | {ours[p][name] * 1e3:.1f} | '
            f'{ours[p][name] / theirs[p][name]:.3f}'
            for p in dtcd
        ]
        rows.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(rows)


def overhead_fraction(phases: dict[str, float]) -> float:
    """Share of the step outside model forward and backward."""
    return sum(phases.get(p, 0.0) for p in OVERHEAD_PHASES) / phases['total']


# -------------------------------------------------------------------------------------- main
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--preset', choices=sorted(PRESETS), default='cpu-small')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--tiny', action='store_true', help='toy model and crop sizes (smoke)')
    parser.add_argument('--batch-size', type=int, help='override the preset batch size')
    parser.add_argument('--num-local', type=int, help='override the preset local crop count')
    parser.add_argument('--steps', type=int, help='timed steps per precision')
    parser.add_argument('--warmup', type=int, help='untimed steps per precision')
    parser.add_argument('--precision', nargs='+', choices=['fp32', 'bf16'], default=None)
    parser.add_argument(
        '--optimizer',
        choices=['module', 'for-loop', 'foreach', 'fused'],
        default='module',
        help="AdamW implementation; 'module' is what DistillationModule configures",
    )
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument(
        '--compile', action='store_true', help='torch.compile the student and teacher forwards'
    )
    parser.add_argument('--interpolation', choices=['bicubic', 'bilinear'], default='bicubic')
    parser.add_argument('--no-flops', action='store_true', help='skip the FLOP count step')
    parser.add_argument('--matmul-size', type=int, help='side of the ceiling matmul')
    parser.add_argument('--threads', type=int, help='torch intra-op threads')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--no-baseline', action='store_true', help='skip the plain torchvision / timm step'
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print the tables and the summary line; return the summary."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    preset = PRESETS[args.preset]
    if args.tiny:
        preset = replace(preset, **TINY)
    overrides = {
        'batch_size': args.batch_size,
        'num_local': args.num_local,
        'steps': args.steps,
        'warmup': args.warmup,
    }
    preset = replace(preset, **{k: v for k, v in overrides.items() if v is not None})
    precisions = args.precision or ['fp32', 'bf16']
    torch.manual_seed(args.seed)

    print(machine_line(device))
    print(f'preset {args.preset}{" (tiny)" if args.tiny else ""}: {preset}')
    module = build_module(preset, args.compile).to(device)
    module.multicrop.interpolation = args.interpolation
    module.train()
    images = torch.randn(
        preset.batch_size, len(module.multicrop.bands), preset.image_size, preset.image_size,
        device=device,
    )  # fmt: skip
    if args.channels_last:
        module = module.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    plain = None if args.no_baseline else PlainDEO(module)  # eager, built before compiling
    module.configure_model()  # compiles with --compile, as Lightning's fit would
    optimizer = make_optimizer(module, args.optimizer)
    frozen = next(t for t in module.teachers if isinstance(t, OpticalDistillation))
    ema = next(t for t in module.teachers if isinstance(t, SelfDistillation))
    counter = CallCounter(
        {
            'student body': module.student.features[0],
            'EMA teacher body': ema.teacher.backbone.features[0],
            'frozen teacher': frozen.teacher.model.blocks[0],
        },
        enabled=not args.compile,
    )

    flops = plain_flops = 0
    if not args.no_flops:
        progress_note('counting FLOPs of one step')
        flops = count_flops(lambda: train_step(module, optimizer, images, 'fp32'))
        counter.reset()
        if plain is not None:
            plain_flops = count_flops(
                lambda: plain_train_step(plain, module, images, 'fp32', PhaseTimer(device))
            )
    size = args.matmul_size or (8192 if device.type == 'cuda' else 256 if args.tiny else 2048)
    progress_note(f'timing {preset.warmup} + {preset.steps} steps of {precisions}, interleaved')
    by_side, ceilings, memory = time_steps(
        module, optimizer, images, precisions, preset.warmup, preset.steps, counter, size, plain
    )

    progress_note('timing per-sample reference vs batched augmentation')
    ref_per_image, ours_per_image = time_augmentation(
        module, images, preset, preset.warmup, preset.steps
    )
    speedup = ref_per_image / ours_per_image

    checked = 'each ran exactly once: checked' if counter.enabled else 'not checked under compile'
    print(f'\nstudent passes per step: {module.passes} ({checked})')
    print(f'FLOPs per step (forward + backward, counted once): {flops / 1e9:.1f} GFLOP')
    if plain_flops:
        print(f'FLOPs per step of the plain step (equal work): {plain_flops / 1e9:.1f} GFLOP')
    for name, ceiling in ceilings.items():
        print(f'matmul ceiling {name} ({size}^3 mm): {ceiling / 1e12:.3f} TFLOP/s')
    memory_kind = 'peak CUDA allocated' if device.type == 'cuda' else 'process peak RSS so far'
    print(f'\nphase medians over {preset.steps} steps after {preset.warmup} warm-up:')
    results = by_side['dtcd']
    print(phase_table(results))
    if plain is not None:
        print('\ndtcd against the plain torchvision / timm step on the same crops (medians):')
        print(baseline_table(results, by_side['plain']))
    print('\n| precision | step s | images/s | overhead | achieved TFLOP/s | of ceiling | memory |')
    print('|---|---:|---:|---:|---:|---:|---:|')
    summary: dict[str, float] = {}
    for precision, phases in results.items():
        step = phases['total']
        achieved = flops / step
        summary = {
            'augment_speedup': speedup,
            'overhead_fraction': overhead_fraction(phases),
            'images_per_s': preset.batch_size / step,
        }
        print(
            f'| {precision} | {step:.3f} | {summary["images_per_s"]:.2f} | '
            f'{summary["overhead_fraction"]:.1%} | {achieved / 1e12:.3f} | '
            f'{achieved / ceilings[precision]:.1%} | {memory[precision]:.0f} MiB '
            f'({memory_kind}) |'
        )
    print(
        '\naugmentation per image, same batch and device '
        f'({preset.num_global} × {preset.global_size} + {preset.num_local} × '
        f'{preset.local_size} crops of {preset.image_size} px): per-sample reference '
        f'{ref_per_image * 1e3:.1f} ms, batched MultiCrop {ours_per_image * 1e3:.1f} ms, '
        f'speedup {speedup:.2f}x'
    )
    # Summary of the last precision run (bf16 by default).
    print(
        f'augment_speedup={summary["augment_speedup"]:.2f} '
        f'overhead_fraction={summary["overhead_fraction"]:.3f} '
        f'images_per_s={summary["images_per_s"]:.2f}'
    )
    return summary


if __name__ == '__main__':
    main()
