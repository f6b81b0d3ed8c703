"""Object storage for LitData: plain-http S3 endpoints, and clear errors where shards are missing.

LitData 0.2.76 moves chunks through obstore, whose HTTP client refuses ``http://`` endpoints unless
its ``allow_http`` option is set, and LitData builds that client without a way to pass it
(``endpoint_url='http://...'`` then fails with "HTTP error: builder error"): local MinIO, Ceph
gateways inside a cluster, and the S3 server the tests run on localhost. Importing this module
(the streaming datamodule and the shard writer do, in every process, loader workers included)
adds the option; it only permits http where an endpoint asks for it, https stays https.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from litdata.streaming import downloader

__all__ = ['allow_http_endpoints', 'check_shards', 's3_object']


def allow_http_endpoints() -> None:
    """Let LitData's obstore client talk to ``http://`` endpoints."""
    downloader._OBSTORE_CLIENT_OPTIONS['allow_http'] = 'true'  # type: ignore[index]


allow_http_endpoints()


def s3_object(url: str, name: str) -> tuple[str, str]:
    """``(bucket, key)`` of the object ``name`` under ``s3://bucket/prefix``."""
    bucket, _, prefix = url.removeprefix('s3://').partition('/')
    return bucket, '/'.join(filter(None, [prefix.rstrip('/'), name]))


#: How long a check of the shards' location may wait for an answer, in seconds.
CHECK_TIMEOUT_S = 10


def check_shards(input_dir: str, storage_options: dict[str, Any] | None = None) -> None:
    """Fail fast, naming the problem, when ``input_dir`` holds no shard set.

    A folder must hold LitData's ``index.json``; for ``s3://bucket/prefix`` the check asks the
    endpoint directly with a short time-out and few retries (LitData's own client retries for
    minutes against an endpoint that does not answer).

    Every chunk ``index.json`` lists must be there at its listed size: LitData waits for a missing
    or truncated chunk until a time-out that blames a crashed download.

    Raises:
        FileNotFoundError: No shard set there (missing folder, bucket, prefix or index), or a
            chunk is missing.
        ValueError: A chunk is truncated.
        PermissionError: The endpoint refused the credentials.
        ConnectionError: The endpoint cannot be reached.
    """
    advice = 'write the shards with `dtcd shard SOURCE ROOT OUT`, or point input_dir at them'
    if not input_dir.startswith('s3://'):
        if not Path(input_dir, 'index.json').is_file():
            what = 'is no folder' if not Path(input_dir).is_dir() else 'has no index.json'
            raise FileNotFoundError(f'{input_dir} {what}: no LitData shards there; {advice}.')
        index = json.loads(Path(input_dir, 'index.json').read_text())
        sizes = {p.name: p.stat().st_size for p in Path(input_dir).iterdir() if p.is_file()}
        check_chunks(input_dir, index, sizes)
        return
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    bucket, key = s3_object(input_dir, 'index.json')
    options = dict(storage_options or {})
    endpoint = options.get('endpoint_url', 'the default AWS endpoint')
    config = Config(connect_timeout=CHECK_TIMEOUT_S, read_timeout=CHECK_TIMEOUT_S,
                    retries={'max_attempts': 2})  # fmt: skip
    client = boto3.client('s3', config=config, **options)
    try:
        index = json.loads(client.get_object(Bucket=bucket, Key=key)['Body'].read())
    except EndpointConnectionError as error:
        raise ConnectionError(
            f'{input_dir}: cannot reach {endpoint} ({error}); check storage_options.endpoint_url '
            'and the network.'
        ) from None
    except NoCredentialsError:
        raise PermissionError(
            f'{input_dir}: no credentials for {endpoint}; set AWS_ACCESS_KEY_ID and '
            'AWS_SECRET_ACCESS_KEY (or a profile), or give them in storage_options.'
        ) from None
    except ClientError as error:
        code = str(error.response.get('Error', {}).get('Code', ''))
        if code in ('403', 'AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch'):
            raise PermissionError(
                f'{input_dir}: {endpoint} refused the credentials ({code}); check '
                'AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or storage_options.'
            ) from None
        try:
            client.head_bucket(Bucket=bucket)
        except ClientError:
            raise FileNotFoundError(
                f'{input_dir}: bucket {bucket!r} does not exist at {endpoint}; {advice}.'
            ) from None
        raise FileNotFoundError(
            f'{input_dir}: no index.json under that prefix at {endpoint}: no LitData shards '
            f'there; {advice}.'
        ) from None
    prefix = key.removesuffix('index.json')
    sizes = {}
    for page in client.get_paginator('list_objects_v2').paginate(Bucket=bucket, Prefix=prefix):
        sizes |= {o['Key'].removeprefix(prefix): o['Size'] for o in page.get('Contents', [])}
    check_chunks(input_dir, index, sizes)


def check_chunks(input_dir: str, index: dict[str, Any], sizes: dict[str, int]) -> None:
    """Each chunk of ``index.json`` present in ``sizes`` (name -> bytes) at its listed size."""
    redo = 'the shard set is incomplete: write or upload it again (`dtcd shard`)'
    for chunk in index.get('chunks', []):
        name, expected = chunk['filename'], chunk['chunk_bytes']
        if name not in sizes:
            raise FileNotFoundError(f'{input_dir}: chunk {name}, listed in index.json, is missing; '
                                    f'{redo}.')  # fmt: skip
        if index['config'].get('compression') is None and sizes[name] != expected:
            raise ValueError(f'{input_dir}: chunk {name} has {sizes[name]} bytes where index.json '
                             f'lists {expected}: truncated; {redo}.')  # fmt: skip
