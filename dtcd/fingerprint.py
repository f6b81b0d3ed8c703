"""What produced a stored result, so that a sweep never reuses a result its inputs no longer give.

A sweep cell's result is valid only as long as the command that made it would make it again: the
same ``dtcd`` arguments, the same bytes in every file those arguments name (probe configs, a
backbone checkpoint or export, weights; also files a YAML config names inside it), the same
data-making ``prepare`` steps (data folders are read by path, not hashed) and the same dtcd
version. :class:`Fingerprint` records those; :meth:`Fingerprint.differences` says in words what
changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, BinaryIO

import yaml

__all__ = ['Fingerprint', 'dtcd_version', 'named_files', 'sha256']

#: ``(path, inode, size, mtime_ns) -> sha256``: a checkpoint probed by many cells is hashed once.
_HASHES: dict[tuple[str, int, int, int], str] = {}


def sha256(path: Path) -> str:
    """The file's content digest, cached while its inode, size and modification time stay.

    The sha256 of its bytes; for ``.safetensors`` of its header with sorted keys and its tensor
    bytes, since the safetensors writer orders the metadata differently on every write.
    """
    stat = path.stat()
    key = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with path.open('rb') as file:
            if path.suffix == '.safetensors':
                _add_safetensors_header(digest, file)
            while chunk := file.read(1 << 20):
                digest.update(chunk)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


def _add_safetensors_header(digest: Any, file: BinaryIO) -> None:
    """Hash the header with sorted keys and leave ``file`` at the tensor bytes; a file that is
    no safetensors is hashed from its start, byte for byte."""
    try:
        header = json.loads(file.read(int.from_bytes(file.read(8), 'little')))
        digest.update(json.dumps(header, sort_keys=True).encode())
    except (ValueError, MemoryError, OverflowError):
        file.seek(0)


def dtcd_version() -> str:
    """The installed dtcd's version (``unknown`` when run from a source tree not installed)."""
    try:
        return version('dtcd')
    except PackageNotFoundError:
        return 'unknown'


def _is_file(value: str) -> bool:
    """Whether ``value`` names an existing file (a JSON argument may be too long for a path)."""
    try:
        return Path(value).is_file()
    except OSError:
        return False


def _values(arguments: Sequence[str]) -> Iterator[tuple[str, str]]:
    """``(option, value)`` of each argument: ``--key=value``, ``--key value`` or a positional."""
    option = ''
    for argument in arguments:
        if argument.startswith('--'):
            key, equals, value = argument.partition('=')
            if equals:
                yield key, value
                option = ''
            else:
                option = key
        else:
            yield option, argument
            option = ''


def _strings(tree: Any) -> Iterator[str]:
    """Every string in a loaded YAML document."""
    if isinstance(tree, str):
        yield tree
    elif isinstance(tree, Mapping):
        for value in tree.values():
            yield from _strings(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _strings(value)


def named_files(arguments: Sequence[str]) -> list[str]:
    """The existing files that ``arguments`` name, and those named inside their ``--config`` files.

    Paths stay as written (relative to the working directory, like the command reads them).
    """
    found: dict[str, None] = {}  # ordered, each path once
    for option, value in _values(arguments):
        if value in found or not _is_file(value):
            continue
        found[value] = None
        if option == '--config':
            try:
                inner = yaml.safe_load(Path(value).read_text())
            except yaml.YAMLError:
                continue  # LightningCLI will say what is wrong with it
            found |= {s: None for s in _strings(inner) if _is_file(s)}
    return list(found)


@dataclass(frozen=True)
class Fingerprint:
    """Everything a stored result depends on.

    Attributes:
        arguments: The ``dtcd`` arguments (without the Python interpreter, which may differ).
        files: ``path -> sha256`` of each file the arguments name.
        steps: ``name -> arguments`` of the ``prepare`` steps that make data folders.
        dtcd: dtcd's version.
    """

    arguments: tuple[str, ...]
    files: dict[str, str] = field(default_factory=dict)
    steps: dict[str, str] = field(default_factory=dict)
    dtcd: str = ''

    @classmethod
    def of(cls, arguments: Sequence[str], steps: Mapping[str, str] | None = None) -> Fingerprint:
        """The fingerprint of running ``arguments`` now."""
        files = {path: sha256(Path(path)) for path in named_files(arguments)}
        return cls(tuple(arguments), files, dict(steps or {}), dtcd_version())

    def to_json(self) -> dict[str, Any]:
        return {
            'arguments': list(self.arguments),
            'files': self.files,
            'steps': self.steps,
            'dtcd': self.dtcd,
        }

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> Fingerprint:
        return cls(
            tuple(stored['arguments']),
            dict(stored.get('files', {})),
            dict(stored.get('steps', {})),
            stored.get('dtcd', ''),
        )

    def differences(self, stored: Fingerprint | None) -> list[str]:
        """What differs from the ``stored`` fingerprint, one phrase each; empty when the same."""
        if stored is None:
            return ['stored without a fingerprint (made before dtcd recorded them)']
        found = []
        removed = [a for a in stored.arguments if a not in self.arguments]
        added = [a for a in self.arguments if a not in stored.arguments]
        if removed or added:
            found.append(f'arguments: {_listed("-", removed)}{_listed("+", added)}'.strip())
        elif self.arguments != stored.arguments:
            found.append('arguments: same arguments in another order')
        for path, digest in stored.files.items():
            if path not in self.files:
                found.append(f'{path} is no longer there')
            elif self.files[path] != digest:
                found.append(f'{path} changed (sha256 {digest[:8]} -> {self.files[path][:8]})')
        found += [
            f'{path} is read now, not before' for path in self.files if path not in stored.files
        ]
        for name in sorted(set(stored.steps) | set(self.steps)):
            if stored.steps.get(name) != self.steps.get(name):
                found.append(f'prepare step {name!r} changed')
        if stored.dtcd != self.dtcd:
            found.append(f'dtcd {stored.dtcd or "?"} -> {self.dtcd}')
        return found


def _listed(sign: str, arguments: list[str]) -> str:
    return ''.join(f'{sign}{a!r} ' for a in arguments)
