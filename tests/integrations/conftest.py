"""An exported dtcd student (the demo's architecture) for the integration tests; the model hubs
are offline throughout."""

from pathlib import Path

import pytest
import torch
import yaml

from dtcd.main import main
from dtcd.models import MultiStemSwin
from tests.models.test_checkpoints import lightning_checkpoint

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
