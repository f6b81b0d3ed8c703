"""Shared fixtures."""

from pathlib import Path

import pytest

from dtcd.main import main


@pytest.fixture(scope='session')
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SynthEO's tiny preset, generated once per session through the ``dtcd synth`` verb."""
    root = tmp_path_factory.mktemp('syntheo')
    main(['synth', '--out', str(root), '--preset', 'tiny', '--seed', '0'])
    return root
