"""Fixtures of the data tests: a real S3 API (moto's server) on localhost."""

import socket
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

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
