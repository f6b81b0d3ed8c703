"""Two-process DDP pretraining on CPU: ranks stay identical, MCR sees the world size, ranks draw
their own crops, and only rank 0 writes files."""

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from dtcd import rng
from dtcd.losses.mcr import coding_rate
from tests.reliability.conftest import ROOT, fit_args, free_port, run, subprocess_env
from tests.test_pretrain import tiny_module

SCRIPT = 'tests/reliability/ddp_script.py'
STEPS = 3


def expansion(student: torch.Tensor, teacher: torch.Tensor, eps: float, world: int) -> float:
    """SimDINO's expansion term from the paper's formula, for ``world`` processes."""
    views, batch, dim = teacher.shape
    averaged = (student[:views] + teacher) / 2
    rates = torch.stack([coding_rate(z, eps, world) for z in averaged])
    return float((dim + world * batch) / (dim * world * batch) * rates.mean())


@pytest.mark.slow
def test_two_rank_ddp_pretraining(tmp_path: Path) -> None:
    launch = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2']
    launch += ['--master_port', str(free_port()), SCRIPT, str(tmp_path), '--steps', str(STEPS)]
    run(launch, timeout=300, threads=1)
    ranks = [torch.load(tmp_path / f'rank{r}.pt', weights_only=False) for r in (0, 1)]
    assert [r['global_step'] for r in ranks] == [STEPS, STEPS]
    for part in ('student', 'ema'):
        for name, value in ranks[0][part].items():
            assert torch.equal(value, ranks[1][part][name]), f'{part}.{name} differs across ranks'
    assert not torch.equal(ranks[0]['rng_at_start'], ranks[1]['rng_at_start'])
    for rank in ranks:
        mcr = rank['mcr']
        eps = float(mcr['eps'])
        got = float(mcr['expansion'])
        assert got == pytest.approx(expansion(mcr['student'], mcr['teacher'], eps, 2), rel=1e-5)
        assert got != pytest.approx(expansion(mcr['student'], mcr['teacher'], eps, 1), rel=1e-3)
    # lr scales with the global batch, 4 images x 2 ranks (tiny_module: lr 5e-4 for 256 images;
    # 3 steps, warm-up round(0.1 * 3) = 0, so step 0 runs at the peak).
    assert [r['lr'][0] for r in ranks] == pytest.approx([5e-4 * 4 * 2 / 256] * 2, rel=1e-6)
    assert ranks[0]['checkpoint_writes'] > 0 and ranks[1]['checkpoint_writes'] == 0
    saved = torch.load(tmp_path / 'checkpoints' / 'last.ckpt', weights_only=False)
    assert saved['global_step'] == STEPS and len(saved['dtcd_rng_states']) == 2
    events = list((tmp_path / 'logs' / 'version_0').glob('events.out.tfevents.*'))
    assert [e.name.split('.')[-2] for e in events] == [str(ranks[0]['pid'])]


@pytest.mark.slow
def test_two_node_torchrun_launch_on_localhost(tmp_path: Path, synth_root: Path) -> None:
    """The README's multi-node command, as two one-process "nodes" meeting on localhost."""
    torchrun = [sys.executable, '-m', 'torch.distributed.run', '--nnodes', '2']
    torchrun += ['--nproc_per_node', '1', '--rdzv_backend', 'c10d']
    torchrun += ['--rdzv_endpoint', f'localhost:{free_port()}']
    fit = fit_args(tmp_path, synth_root, '--trainer.num_nodes', '2', '--trainer.devices', '1')
    fit += ['--trainer.strategy', 'ddp', '--trainer.max_steps', '4']
    command = [*torchrun, '-m', 'dtcd.main', *fit]
    env = subprocess_env(threads=1)
    pipes = {'stdout': subprocess.DEVNULL, 'stderr': subprocess.PIPE, 'text': True}
    nodes = [subprocess.Popen(command, cwd=ROOT, env=env, **pipes) for _ in range(2)]
    errors = [node.communicate(timeout=300)[1] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], errors[0][-3000:] + errors[1][-3000:]
    run_dir = tmp_path / 'tiny' / 'version_0'
    saved = torch.load(run_dir / 'checkpoints' / 'last.ckpt', weights_only=False)
    assert saved['global_step'] == 4 and len(saved['dtcd_rng_states']) == 2
    assert len(list(run_dir.glob('events.out.tfevents.*'))) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ['tiny']


def test_rank_seed_offset_yields_to_restored_generators() -> None:
    """on_fit_start runs after on_load_checkpoint: a resume must keep each rank's saved states."""
    module = tiny_module()
    module._trainer = SimpleNamespace(world_size=2, global_rank=1)  # type: ignore[assignment]
    torch.manual_seed(5)
    module.on_fit_start()
    assert torch.equal(torch.get_rng_state(), torch.manual_seed(6).get_state())  # seed + rank
    states = []
    for seed in (7, 8):
        torch.manual_seed(seed)
        states.append(rng.capture())
    module.on_load_checkpoint({'dtcd_rng_states': states})
    module.on_fit_start()
    assert torch.equal(torch.get_rng_state(), states[1]['torch'])  # rank 1's, kept
    module.on_load_checkpoint({'dtcd_rng_states': states[:1]})  # saved by one process
    module.on_fit_start()
    assert torch.equal(torch.get_rng_state(), torch.manual_seed(8).get_state())  # 7 + rank 1
