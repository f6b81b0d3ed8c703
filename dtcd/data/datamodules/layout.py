"""What a dataset folder must hold, and the error that says so when it does not.

TorchGeo's ``DatasetNotFoundError`` names only the root and suggests ``download=True``, which
dtcd never uses (it runs offline). A missing or half-extracted copy is better met with the files
dtcd looks for, where the dataset is published and the tree it expects.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from torchgeo.datasets import DatasetNotFoundError


class DatasetLayoutError(DatasetNotFoundError):
    """A dataset folder is missing or incomplete; the message says what dtcd expects."""

    def __init__(self, message: str) -> None:
        # DatasetNotFoundError builds its message from a dataset object; ours is ready-made.
        FileNotFoundError.__init__(self, message)


@dataclass(frozen=True)
class DatasetLayout:
    """The on-disk layout of one dataset, for error messages and up-front checks.

    Attributes:
        name: Dataset name.
        source: Where the dataset is published (dtcd never downloads).
        tree: The folder tree dtcd reads, one entry per line.
        archives: Folder → the archive that TorchGeo's dataset class extracts into it when the
            folder is missing (``{'PASTIS-R': 'PASTIS-R.zip'}``): a root holding only the
            archive is complete, as it is for TorchGeo with ``download=False``.
    """

    name: str
    source: str
    tree: str
    archives: Mapping[str, str] = field(default_factory=dict)

    def error(self, root: str | Path, problem: str) -> DatasetLayoutError:
        """An error naming ``problem``, the root, the expected tree and the source."""
        tree = '\n'.join(f'    {line}' for line in self.tree.strip('\n').splitlines())
        return DatasetLayoutError(
            f'{self.name}: {problem} under root={str(root)!r}.\n'
            f'dtcd expects this layout (the extracted official archives):\n{tree}\n'
            f'Get the data from {self.source} (dtcd never downloads), then pass its folder '
            'as --data.init_args.root.'
        )

    def require(self, root: str | Path, paths: Sequence[str]) -> None:
        """Fail with the layout if any of ``paths`` (relative to ``root``) is absent."""
        missing = [p for p in paths if not Path(root, p).exists() and not self._archived(root, p)]
        if missing:
            raise self.error(root, f'missing {", ".join(repr(p) for p in missing)}')

    def _archived(self, root: str | Path, path: str) -> bool:
        """Whether ``path`` lies in a folder whose archive is there for TorchGeo to extract."""
        return any(
            (path == folder or path.startswith(f'{folder}/')) and Path(root, archive).is_file()
            for folder, archive in self.archives.items()
        )

    @contextmanager
    def explain(self, root: str | Path) -> Iterator[None]:
        """Turn TorchGeo's bare ``DatasetNotFoundError`` into one that shows the layout."""
        try:
            yield
        except DatasetLayoutError:
            raise
        except DatasetNotFoundError as error:
            raise self.error(root, 'dataset not found') from error
