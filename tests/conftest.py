"""Shared fixtures: SynthEO, a real S3 API (moto's server) on localhost, and every pretraining
source converted to shards once per session."""

import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

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


BUCKET = 'eo-shards'


@pytest.fixture(scope='session')
def endpoint() -> Iterator[str]:
    """An S3 server on a free localhost port with one bucket; test credentials in the env."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address='127.0.0.1', port=port, verbose=False)
    server.start()
    url = f'http://127.0.0.1:{port}'
    with pytest.MonkeyPatch.context() as env:
        for key, value in [('AWS_ACCESS_KEY_ID', 'test'), ('AWS_SECRET_ACCESS_KEY', 'test'),
                           ('AWS_DEFAULT_REGION', 'us-east-1')]:  # fmt: skip
            env.setenv(key, value)
        boto3.client('s3', endpoint_url=url).create_bucket(Bucket=BUCKET)
        yield url
    server.stop()


CORPORA = ROOT / 'tests' / 'data' / 'corpora'


@dataclass(frozen=True)
class ShardSet:
    """A source converted by ``dtcd shard``: what was read, with which options, and the shards."""

    source: str
    root: Path
    options: tuple[str, ...]
    shards: Path

    def reader(self) -> Any:
        from dtcd.data.shards import open_source

        return open_source(self.source, self.root, **dict(o.split('=') for o in self.options))


def _source(name: str, synth_root: Path, scratch: Path) -> tuple[str, Path, tuple[str, ...]]:
    """(``dtcd shard`` source, its ROOT, its options) of a test source name."""
    from tests.data.fake import deo_hdf5, ssl4eo_s12

    sources = {
        'synth': lambda: ('synth', synth_root, ()),
        'paired': lambda: ('paired', synth_root / 'pretrain', ()),
        'deo-hdf5': lambda: ('deo-hdf5', deo_hdf5.write(scratch / 'h5'), ()),
        'ssl4eo-s12': lambda: (
            'ssl4eo-s12', ssl4eo_s12.write(scratch / 'ssl4eo', locations=2), ('split=s2c',),
        ),
        'ssl4eo-s12-v1.1 tars': lambda: (
            'ssl4eo-s12-v1.1', CORPORA / 'ssl4eo_s12_v11', ('sar=true',),
        ),
        'ssl4eo-s12-v1.1 chunk files': lambda: (
            'ssl4eo-s12-v1.1', CORPORA / 'ssl4eo_s12_v11_zarr', ('modality=S2L2A',),
        ),
        'major-tom': lambda: ('major-tom', CORPORA / 'major_tom' / 'Core-S2L2A', ()),
    }  # fmt: skip
    return sources[name]()


#: Every source ``dtcd shard`` converts, by the name the tests use.
SHARD_SOURCES = (
    'synth', 'paired', 'deo-hdf5', 'ssl4eo-s12', 'ssl4eo-s12-v1.1 tars',
    'ssl4eo-s12-v1.1 chunk files', 'major-tom',
)  # fmt: skip


@pytest.fixture(scope='session')
def sharded(
    synth_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], ShardSet]:
    """``sharded(name)``: that source converted once per session with the real ``dtcd shard``."""
    from dtcd.main import main

    scratch = tmp_path_factory.mktemp('sources')
    done: dict[str, ShardSet] = {}

    def convert(name: str) -> ShardSet:
        if name not in done:
            source, root, options = _source(name, synth_root, scratch)
            out = tmp_path_factory.mktemp('shards') / name.replace(' ', '-')
            main(['shard', source, str(root), str(out), *(f'--option={o}' for o in options)])
            done[name] = ShardSet(source, root, options, out)
        return done[name]

    return convert
