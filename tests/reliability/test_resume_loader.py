"""Exact resume under the shipped configs' loader settings: a worker process, persistent workers.

A persistent-worker loader makes one iterator per run, a resumed run a new one. When the shuffle
and the workers' seeds came from the global generator, the new iterator drew once more and the
resumed run's batches, crops and masks all differed (2.9e-3 on the student). These tests resume
the demo config with its own loader settings from an epoch-boundary ``last.ckpt`` and from a
per-epoch ``ModelCheckpoint`` file, and require the straight run's weights within 1e-6.
"""

import sys
from pathlib import Path

import pytest
import torch

from dtcd.data.datamodules import PairedPretrainDataModule
from tests.probes.conftest import TINY_SWIN_YAML
from tests.reliability.conftest import ROOT, dtcd, free_port, run

DEMO = ROOT / 'experiments' / 'pretrain' / 'demo.yaml'
DEMO_KORNIA = ROOT / 'experiments' / 'pretrain' / 'demo_kornia.yaml'
STEPS_PER_EPOCH = 3

CALLBACKS = """
trainer:
  callbacks:
    - class_path: dtcd.callbacks.AtomicModelCheckpoint
      init_args: {save_last: true, save_top_k: 0}
    - class_path: lightning.pytorch.callbacks.ModelCheckpoint
      init_args:
        dirpath: DIR
        filename: 'epoch{epoch}'
        auto_insert_metric_name: false
        save_top_k: -1
        every_n_epochs: 1
"""


def demo_args(
    out: Path, synth_root: Path, *extra: str, ranks: int = 1, config: Path = DEMO
) -> list[str]:
    """The demo config at test size; its loader settings (1 persistent worker) unchanged.

    ``ranks > 1``: launched by torchrun as that many DDP processes on the CPU.
    """
    callbacks = out / 'callbacks.yaml'
    out.mkdir(parents=True, exist_ok=True)
    callbacks.write_text(CALLBACKS.replace('DIR', str(out / 'epochs')))
    launch = dtcd() if ranks == 1 else [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(ranks),
        '--master_port', str(free_port()), '-m', 'dtcd.main',
    ]  # fmt: skip
    ddp = [] if ranks == 1 else ['--trainer.devices', str(ranks), '--trainer.strategy', 'ddp']
    return [
        *launch,
        'fit',
        '--config', str(config),
        '--config', str(callbacks),
        '--data.init_args.root', str(synth_root / 'pretrain'),
        '--data.init_args.batch_size', '4',
        '--trainer.logger.init_args.save_dir', str(out),
        '--trainer.precision', '32-true',
        '--trainer.max_epochs', '2',
        '--trainer.limit_train_batches', str(STEPS_PER_EPOCH),
        '--trainer.enable_progress_bar', 'false',
        '--model.init_args.image_log_every_n_steps', '0',
        '--seed_everything', '3',
        *ddp,
        *extra,
    ]  # fmt: skip


def final_weights(out: Path, name: str = 'demo_pretrain') -> dict[str, torch.Tensor]:
    last = max((out / name).glob('version_*/checkpoints/last.ckpt'))
    checkpoint = torch.load(last, weights_only=False, map_location='cpu')
    assert checkpoint['global_step'] == 2 * STEPS_PER_EPOCH
    return checkpoint['state_dict']


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    tensors = [k for k, v in a.items() if isinstance(v, torch.Tensor) and v.numel()]
    return max((a[k].double() - b[k].double()).abs().max().item() for k in tensors)


@pytest.mark.slow
def test_demo_config_resumes_exactly_from_epoch_boundary_checkpoints(
    tmp_path: Path, synth_root: Path
) -> None:
    run(demo_args(tmp_path / 'straight', synth_root), timeout=600)
    straight = final_weights(tmp_path / 'straight')

    stopped = tmp_path / 'stopped'
    stop = '--trainer.callbacks+=tests.reliability.stop_after_first_epoch.StopAfterFirstEpoch'
    run(demo_args(stopped, synth_root, stop), timeout=600)
    last = stopped / 'demo_pretrain' / 'version_0' / 'checkpoints' / 'last.ckpt'
    per_epoch = stopped / 'epochs' / 'epoch0.ckpt'
    for checkpoint in (last, per_epoch):
        assert torch.load(checkpoint, weights_only=False)['global_step'] == STEPS_PER_EPOCH

    for name, checkpoint in (('from_last', last), ('from_epoch_file', per_epoch)):
        out = tmp_path / name
        done = run(demo_args(out, synth_root, '--ckpt_path', str(checkpoint)), timeout=600)
        assert f'resuming from {checkpoint} at optimizer step {STEPS_PER_EPOCH}' in done.stderr
        assert max_difference(final_weights(out), straight) <= 1e-6, name


@pytest.mark.slow
def test_demo_with_kornia_ops_resumes_exactly(tmp_path: Path, synth_root: Path) -> None:
    """Kornia's ops draw from torch's global generator, which the checkpointed generator states
    restore: resumed from the straight run's own epoch-0 file, the run ends within 1e-6."""
    straight = tmp_path / 'straight'
    run(demo_args(straight, synth_root, config=DEMO_KORNIA), timeout=600)
    per_epoch = straight / 'epochs' / 'epoch0.ckpt'
    resumed = tmp_path / 'resumed'
    done = run(
        demo_args(resumed, synth_root, '--ckpt_path', str(per_epoch), config=DEMO_KORNIA), 600
    )
    assert f'resuming from {per_epoch} at optimizer step {STEPS_PER_EPOCH}' in done.stderr
    difference = max_difference(final_weights(resumed, 'demo_kornia'),
                                final_weights(straight, 'demo_kornia'))  # fmt: skip
    assert difference <= 1e-6


@pytest.mark.slow
def test_two_process_ddp_resumes_exactly(tmp_path: Path, synth_root: Path) -> None:
    """Each rank's shard of the shuffle and its generators continue where the epoch file was."""
    run(demo_args(tmp_path / 'straight', synth_root, ranks=2), timeout=600, threads=1)
    stop = '--trainer.callbacks+=tests.reliability.stop_after_first_epoch.StopAfterFirstEpoch'
    run(demo_args(tmp_path / 'stopped', synth_root, stop, ranks=2), timeout=600, threads=1)
    per_epoch = tmp_path / 'stopped' / 'epochs' / 'epoch0.ckpt'
    assert len(torch.load(per_epoch, weights_only=False)['dtcd_rng_states']) == 2
    resumed = tmp_path / 'resumed'
    run(demo_args(resumed, synth_root, '--ckpt_path', str(per_epoch), ranks=2), 600, threads=1)
    straight = final_weights(tmp_path / 'straight')
    assert max_difference(final_weights(resumed), straight) <= 1e-6


PROBE = ROOT / 'experiments' / 'probes' / 'synth_segmentation.yaml'
LAST = """
trainer:
  callbacks:
    - class_path: dtcd.callbacks.AtomicModelCheckpoint
      init_args: {dirpath: DIR, save_last: true, save_top_k: 0}
"""


def probe_args(out: Path, synth_root: Path, *extra: str) -> list[str]:
    """The SynthEO segmentation probe, with one persistent loader worker like the real configs."""
    out.mkdir(parents=True, exist_ok=True)
    callbacks = out / 'callbacks.yaml'
    callbacks.write_text(LAST.replace('DIR', str(out / 'last')))
    return dtcd(
        'fit',
        '--config', str(PROBE),
        '--config', str(callbacks),
        '--data.init_args.root', str(synth_root / 'segmentation'),
        '--data.init_args.num_workers', '1',
        '--data.init_args.persistent_workers', 'true',
        '--trainer.logger', 'false',
        '--trainer.default_root_dir', str(out),
        '--trainer.precision', '32-true',
        '--trainer.max_epochs', '2',
        '--trainer.enable_progress_bar', 'false',
        '--model.init_args.backbone', 'random:swin_t',
        '--model.init_args.backbone_kwargs', TINY_SWIN_YAML,
        '--model.init_args.decoder_channels', '16',
        '--seed_everything', '5',
        *extra,
    )  # fmt: skip


@pytest.mark.slow
def test_probe_resumes_exactly_with_persistent_workers(tmp_path: Path, synth_root: Path) -> None:
    """Random crops and flips of the probe draw from the generators the checkpoint restores."""
    run(probe_args(tmp_path / 'straight', synth_root), timeout=600)
    stop = '--trainer.callbacks+=tests.reliability.stop_after_first_epoch.StopAfterFirstEpoch'
    run(probe_args(tmp_path / 'stopped', synth_root, stop), timeout=600)
    last = tmp_path / 'stopped' / 'last' / 'last.ckpt'
    steps = torch.load(last, weights_only=False)['global_step']
    resumed = tmp_path / 'resumed'
    done = run(probe_args(resumed, synth_root, '--ckpt_path', str(last)), timeout=600)
    assert f'resuming from {last} at optimizer step {steps}' in done.stderr

    def final(out: Path) -> dict[str, torch.Tensor]:
        checkpoint = torch.load(out / 'last' / 'last.ckpt', weights_only=False)
        assert checkpoint['global_step'] == 2 * steps
        return checkpoint['state_dict']

    assert max_difference(final(resumed), final(tmp_path / 'straight')) <= 1e-6


def test_resume_refuses_another_batch_size_and_warns_on_another_root(
    tmp_path: Path, synth_root: Path
) -> None:
    """The checkpoint's data settings fix the batch order and the per-step schedules."""
    root = str(synth_root / 'pretrain')
    datamodule = PairedPretrainDataModule(root=root, batch_size=4)
    saved = datamodule.state_dict()
    assert saved == {'batch_size': 4, 'world_size': 1, 'root': root, 'global_step': 0, 'epoch': 0,
                     'normalization': datamodule.normalization}  # fmt: skip
    assert list(datamodule.normalization) == list(datamodule.bands)  # (mean, std) per band
    with pytest.raises(ValueError, match=r"\{'batch_size': \(4, 8\)\}.*same batch size"):
        PairedPretrainDataModule(root=root, batch_size=8).load_state_dict(saved)
    with pytest.warns(UserWarning, match='Resuming on data from'):
        PairedPretrainDataModule(root=str(tmp_path), batch_size=4).load_state_dict(saved)
    PairedPretrainDataModule(root=root, batch_size=4).load_state_dict(saved)  # same: fine
