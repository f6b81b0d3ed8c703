"""Resolve a config's preferred precision to what the hardware runs well.

Configs say what they prefer (``bf16-mixed``, as DEO trains). bf16 autocast pays only where the
hardware computes in bf16 natively: CUDA GPUs of compute capability 8.0+ (Ampere and newer) and
CPUs with ``avx512_bf16`` or AMX. Elsewhere it is emulated: measured 15x slower than fp32 on an
AVX2-only CPU, and older GPUs run fp16 tensor cores instead. ``dtcd fit`` applies
:func:`resolve_precision` unless ``--trainer.precision`` is given on the command line.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

#: CPU flags (``/proc/cpuinfo``) that mean native bf16 matrix arithmetic.
X86_BF16_FLAGS = frozenset({'avx512_bf16', 'amx_bf16'})

#: Precisions that ask for bf16 arithmetic (and are therefore resolved).
BF16_PRECISIONS = frozenset({'bf16-mixed', 'bf16', 'bf16-true'})


@dataclass(frozen=True)
class ResolvedPrecision:
    """The precision to run with, and a sentence saying why."""

    precision: str
    reason: str

    def message(self, preferred: str) -> str:
        """The one line ``dtcd fit`` prints."""
        if self.precision == preferred:
            return f'dtcd: precision {preferred} ({self.reason}).'
        return (
            f'dtcd: precision {preferred} -> {self.precision}: {self.reason}. '
            f'Pass --trainer.precision {preferred} to force it.'
        )


def cpu_flags(cpuinfo: Path = Path('/proc/cpuinfo')) -> frozenset[str]:
    """The CPU's feature flags (x86 ``flags``, Arm ``Features``); empty where unreadable."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(':')
        if key.strip() in ('flags', 'Features'):
            return frozenset(value.split())
    return frozenset()


def cpu_has_native_bf16(flags: frozenset[str] | None = None, machine: str | None = None) -> bool:
    """Whether this CPU computes bf16 matrix products natively (x86 AVX512-BF16 / AMX, Arm BF16)."""
    flags = cpu_flags() if flags is None else flags
    machine = (platform.machine() if machine is None else machine).lower()
    if machine in ('aarch64', 'arm64'):
        return 'bf16' in flags
    return bool(flags & X86_BF16_FLAGS)


def cuda_capability() -> tuple[int, int] | None:
    """Compute capability of the current CUDA device, ``None`` without CUDA."""
    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_capability()


def resolve_accelerator(accelerator: str) -> str:
    """``cuda`` / ``cpu`` / ``mps`` for a Trainer ``accelerator`` (``auto`` and ``gpu`` too)."""
    accelerator = accelerator.lower()
    if accelerator not in ('auto', 'gpu'):
        return accelerator
    if torch.cuda.is_available():
        return 'cuda'
    if torch.backends.mps.is_available():
        return 'mps'
    return 'cpu' if accelerator == 'auto' else 'cuda'  # 'gpu' without one: Lightning will say


def resolve_precision(
    preferred: str,
    accelerator: str,
    native_cpu_bf16: Callable[[], bool] | None = None,
    capability: Callable[[], tuple[int, int] | None] | None = None,
) -> ResolvedPrecision:
    """What to run a ``preferred`` precision as on ``accelerator``.

    Only bf16 preferences change: kept where bf16 is native; on a CUDA GPU older than Ampere,
    ``16-mixed`` (fp16 autocast with Lightning's loss scaling); elsewhere ``32-true``.

    Args:
        preferred: The precision the config asks for.
        accelerator: The Trainer's accelerator (``auto``, ``cpu``, ``gpu``, ``cuda``, ``mps``).
        native_cpu_bf16: Probe for native bf16 on the CPU (default :func:`cpu_has_native_bf16`).
        capability: Probe for the CUDA compute capability (default :func:`cuda_capability`).
    """
    native_cpu_bf16 = native_cpu_bf16 or cpu_has_native_bf16
    capability = capability or cuda_capability
    preferred = str(preferred)
    if preferred not in BF16_PRECISIONS:
        return ResolvedPrecision(preferred, 'as configured')
    device = resolve_accelerator(accelerator)
    if device == 'cuda':
        major_minor = capability()
        if major_minor is not None and major_minor >= (8, 0):
            return ResolvedPrecision(preferred, f'native bf16 on CUDA sm_{_sm(major_minor)}')
        sm = 'unknown' if major_minor is None else _sm(major_minor)
        fallback = '16-mixed' if preferred == 'bf16-mixed' else '32-true'
        return ResolvedPrecision(
            fallback, f'CUDA sm_{sm} has no native bf16 (needs sm_80+, Ampere or newer)'
        )
    if device == 'cpu':
        if native_cpu_bf16():
            return ResolvedPrecision(preferred, 'this CPU has native bf16 (avx512_bf16 / AMX)')
        return ResolvedPrecision(
            '32-true',
            'this CPU has no native bf16 (no avx512_bf16 / amx_bf16 flag), where bf16 autocast '
            'runs about 15x slower than fp32',
        )
    return ResolvedPrecision('32-true', f'bf16 is not resolved for the {device} accelerator')


def precision_on_command_line(argv: list[str]) -> bool:
    """Whether ``argv`` sets ``--trainer.precision`` (either ``--k v`` or ``--k=v``)."""
    return any(a == '--trainer.precision' or a.startswith('--trainer.precision=') for a in argv)


def _sm(capability: tuple[int, int]) -> str:
    return f'{capability[0]}{capability[1]}'
