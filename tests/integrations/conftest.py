"""An exported dtcd student (the demo's architecture) for the integration tests; the model hubs
are offline throughout."""

import sys
from pathlib import Path

import pytest
import torch
import yaml

from dtcd.main import main
from dtcd.models import MultiStemSwin
from tests.models.test_checkpoints import lightning_checkpoint
from tests.reliability.conftest import fit_args

ROOT = Path(__file__).parents[2]


@pytest.fixture(autouse=True)
def offline_hubs(monkeypatch: pytest.MonkeyPatch) -> None:
    """No integration may reach a model hub: the Hugging Face and torch hubs are off."""
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.setenv('TORCH_HOME', '/nonexistent/torch-hub')


@pytest.fixture(scope='module')
def demo_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's student architecture (experiments/pretrain/demo.yaml), exported by dtcd."""
    config = yaml.safe_load((ROOT / 'experiments' / 'pretrain' / 'demo.yaml').read_text())
    torch.manual_seed(0)
    student = MultiStemSwin(**config['model']['init_args']['student']['init_args'])
    folder = tmp_path_factory.mktemp('export')
    checkpoint = lightning_checkpoint(student, folder / 'last.ckpt', {'student': student.config()})
    main(['export', str(checkpoint), str(folder / 'student.safetensors')])
    return folder / 'student.safetensors'


@pytest.fixture(scope='session')
def run_export(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The export of a real one-step pretraining run on SynthEO: what an export records of its
    run (normalisation, recipe, licence) comes from the run itself."""
    folder = tmp_path_factory.mktemp('run')
    export = folder / 'student.safetensors'
    with pytest.MonkeyPatch.context() as patch:  # a session fixture: before the autouse ones
        patch.setattr(sys, 'argv', [sys.argv[0]])
        main([*fit_args(folder, synth_root, '--trainer.max_steps=1',
                        f'--trainer.callbacks.init_args.dirpath={folder / "ckpt"}')])  # fmt: skip
        main(['export', str(folder / 'ckpt' / 'last.ckpt'), str(export), '--license', 'CC-BY-4.0'])
    return export
