"""The README's "Use a dtcd backbone" snippets run as written, next to an exported student."""

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def snippets() -> list[str]:
    readme = (ROOT / 'README.md').read_text()
    section = readme.split('## Use a dtcd backbone', 1)[1].split('\n## ', 1)[0]
    return re.findall(r'```python\n(.*?)```', section, flags=re.S)


def test_the_section_has_its_snippets() -> None:
    assert len(snippets()) == 3


@pytest.mark.parametrize('index', [0, 1, 2], ids=['timm', 'torchgeo', 'terratorch'])
def test_readme_snippet_runs(
    index: int, demo_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(demo_export, tmp_path / 'student.safetensors')
    monkeypatch.chdir(tmp_path)
    exec(compile(snippets()[index], f'README.md snippet {index}', 'exec'), {})
