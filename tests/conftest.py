"""Shared fixtures."""

import sys
from pathlib import Path

import pytest

from dtcd.main import main

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope='session')
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SynthEO's tiny preset, generated once per session through the ``dtcd synth`` verb."""
    root = tmp_path_factory.mktemp('syntheo')
    main(['synth', '--out', str(root), '--preset', 'tiny', '--seed', '0'])
    return root


@pytest.fixture(autouse=True)
def command_line_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests call ``dtcd.main.main(args)`` as the console script would: pytest's own arguments
    are not ``dtcd``'s (LightningCLI warns when it sees both)."""
    monkeypatch.setattr(sys, 'argv', [sys.argv[0]])


@pytest.fixture(autouse=True)
def at_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts in the repository root, wherever pytest was started: shipped sweep files
    name their configs relative to it, as users run them (a test may still ``chdir`` away)."""
    monkeypatch.chdir(ROOT)
