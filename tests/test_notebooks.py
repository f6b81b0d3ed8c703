"""The example notebooks: generated from their builder, stored clean, and run headless (TINY)."""

import runpy
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parents[1] / 'notebooks'
builder = runpy.run_path(str(NOTEBOOKS / 'build_notebooks.py'))


@pytest.mark.parametrize('name', sorted(builder['NOTEBOOKS']))
def test_notebook_matches_its_builder_and_has_no_outputs(name: str) -> None:
    stored = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert stored == builder['build'](name), 'run `python notebooks/build_notebooks.py`'
    assert not any(cell.get('outputs') for cell in stored.cells)


@pytest.mark.parametrize(
    'name',
    [
        # Two `dtcd fit` runs in the kernel: ~20 s alone, over a minute on busy shared cores.
        pytest.param('01_quickstart.ipynb', marks=pytest.mark.slow),
        '02_features.ipynb',
        '03_cka.ipynb',
    ],
)
def test_notebook_runs_headless(
    name: str, synth_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv('DTCD_NOTEBOOK_TINY', '1')
    monkeypatch.setenv('DTCD_NOTEBOOK_DATA', str(synth_root))
    monkeypatch.setenv('MPLBACKEND', 'Agg')
    for variable in ('DTCD_CHECKPOINT', 'DTCD_TEACHER_WEIGHTS'):
        monkeypatch.delenv(variable, raising=False)
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        notebook, timeout=300, kernel_name='python3', resources={'metadata': {'path': tmp_path}}
    ).execute()
    print(f'{name}: {time.perf_counter() - start:.1f} s')
