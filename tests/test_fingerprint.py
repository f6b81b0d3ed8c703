"""Fingerprints of stored results: which files a command reads, and what changed, in words."""

import hashlib
from pathlib import Path

import pytest
import torch

from dtcd.fingerprint import Fingerprint, dtcd_version, named_files, sha256
from dtcd.models import MultiStemSwin
from dtcd.models.checkpoints import export_backbone


@pytest.fixture
def inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A probe command reading a config (which names a weights file) and a backbone file."""
    monkeypatch.chdir(tmp_path)
    Path('weights.pth').write_bytes(b'teacher weights')
    Path('probe.yaml').write_text('model:\n  init_args:\n    lr: 0.01\n    weights: weights.pth\n')
    Path('backbone.ckpt').write_bytes(b'student weights')
    Path('data').mkdir()
    return [
        'fit', '--config', 'probe.yaml', '--model.init_args.backbone=backbone.ckpt',
        '--data.init_args.root=data', '--trainer.logger={"name": "' + 'x' * 300 + '"}',
    ]  # fmt: skip


def test_named_files_are_the_configs_what_they_name_and_file_arguments(inputs: list[str]) -> None:
    # The data folder is not a file; a 300-character JSON value is no path (and does not crash).
    assert named_files(inputs) == ['probe.yaml', 'weights.pth', 'backbone.ckpt']
    fingerprint = Fingerprint.of(inputs, {'synth': 'synth --out data\n'})
    assert fingerprint.files['backbone.ckpt'] == hashlib.sha256(b'student weights').hexdigest()
    assert fingerprint.dtcd == dtcd_version() != 'unknown'
    assert Fingerprint.from_json(fingerprint.to_json()) == fingerprint
    assert fingerprint.differences(Fingerprint.of(inputs, {'synth': 'synth --out data\n'})) == []


def test_each_change_is_named(inputs: list[str]) -> None:
    stored = Fingerprint.of(inputs, {'synth': 'synth --out data\n'})
    Path('probe.yaml').write_text(Path('probe.yaml').read_text().replace('0.01', '0.02'))
    Path('weights.pth').unlink()
    now = Fingerprint.of([*inputs, '--trainer.max_epochs=3'], {'synth': 'synth --seed 1\n'})
    changes = now.differences(stored)
    assert changes[0] == "arguments: +'--trainer.max_epochs=3'"
    assert changes[1].startswith('probe.yaml changed (sha256 ')
    assert changes[2:] == ['weights.pth is no longer there', "prepare step 'synth' changed"]
    older = Fingerprint(stored.arguments, stored.files, stored.steps, '0.0.1')
    assert Fingerprint.of(inputs, stored.steps).differences(older)[-1] == (
        f'dtcd 0.0.1 -> {dtcd_version()}'
    )
    assert now.differences(None) == [
        'stored without a fingerprint (made before dtcd recorded them)'
    ]


def test_a_file_rewritten_with_the_same_bytes_is_no_change(inputs: list[str]) -> None:
    stored = Fingerprint.of(inputs)
    Path('backbone.ckpt').unlink()
    Path('backbone.ckpt').write_bytes(b'student weights')  # a retrained run that came out equal
    assert Fingerprint.of(inputs).differences(stored) == []
    Path('backbone.ckpt').write_bytes(b'student weights, retrained')
    assert Fingerprint.of(inputs).differences(stored) == [
        f'backbone.ckpt changed (sha256 {stored.files["backbone.ckpt"][:8]} -> '
        f'{sha256(Path("backbone.ckpt"))[:8]})'
    ]


def test_safetensors_are_compared_by_content(tmp_path: Path) -> None:
    """The safetensors writer orders its metadata anew on every write: same model, same digest."""
    torch.manual_seed(0)
    model = MultiStemSwin(embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=4)
    torch.save(model.state_dict(), tmp_path / 'student.pt')
    exports = [
        export_backbone(tmp_path / 'student.pt', tmp_path / f'{i}.safetensors') for i in range(4)
    ]
    assert len({sha256(p) for p in exports}) == 1
    with torch.no_grad():
        next(model.parameters()).add_(1e-3)
    torch.save(model.state_dict(), tmp_path / 'student.pt')
    changed = export_backbone(tmp_path / 'student.pt', tmp_path / 'changed.safetensors')
    assert sha256(changed) != sha256(exports[0])
    (tmp_path / 'not.safetensors').write_bytes(b'\xff' * 16)  # no header: hashed as bytes
    assert sha256(tmp_path / 'not.safetensors') == hashlib.sha256(b'\xff' * 16).hexdigest()
