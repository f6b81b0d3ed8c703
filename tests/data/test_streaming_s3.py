"""Shards on object storage: a real S3 API (moto's server) on localhost, over plain http."""

import json
import os
from pathlib import Path

import boto3
import pytest

from dtcd.data.datamodules import StreamingPretrainDataModule
from dtcd.main import main
from tests.conftest import BUCKET
from tests.reliability.conftest import TINY_CONFIG, scalars


def test_shards_written_to_s3_train_a_dtcd_fit_and_a_lost_chunk_is_named(
    endpoint: str, synth_root: Path, tmp_path: Path
) -> None:
    url = f's3://{BUCKET}/synth'
    options = f'{{"endpoint_url": "{endpoint}"}}'
    main(['shard', 'synth', str(synth_root), url, '--storage-options', options, '--limit', '8',
          '--chunk-bytes', '1MB'])  # fmt: skip
    client = boto3.client('s3', endpoint_url=endpoint)
    keys = [o['Key'] for o in client.list_objects_v2(Bucket=BUCKET, Prefix='synth/')['Contents']]
    chunks = sorted(k for k in keys if k.endswith('.bin'))
    assert 'synth/index.json' in keys and len(chunks) > 1
    index = json.loads(client.get_object(Bucket=BUCKET, Key='synth/index.json')['Body'].read())
    assert sum(chunk['chunk_size'] for chunk in index['chunks']) == 8  # --limit 8
    data = tmp_path / 'data.yaml'
    data.write_text(
        'data:\n  class_path: dtcd.data.datamodules.StreamingPretrainDataModule\n'
        f'  init_args: {{input_dir: "{url}", batch_size: 4, num_workers: 2,\n'
        f'    storage_options: {options}, cache_dir: {tmp_path / "cache"}}}\n'
    )
    main(['fit', '--config', str(TINY_CONFIG), '--config', str(data), '--trainer.max_steps=3',
          '--trainer.logger.init_args.save_dir', str(tmp_path)])  # fmt: skip
    # 8 tiles in batches of 4, read by 2 spawned workers: 2 steps in epoch 0, 1 of epoch 1.
    assert sorted(scalars(tmp_path / 'tiny' / 'version_0', 'train/loss')) == [0, 1, 2]
    assert os.listdir(tmp_path / 'cache')  # chunks were downloaded

    client.delete_object(Bucket=BUCKET, Key=chunks[0])  # lost on the server
    lost = chunks[0].removeprefix('synth/')
    storage = {'endpoint_url': endpoint}
    datamodule = StreamingPretrainDataModule(input_dir=url, batch_size=4, storage_options=storage)
    with pytest.raises(FileNotFoundError, match=f'chunk {lost}, listed in index.json, is missing'):
        datamodule.setup('fit')


@pytest.mark.parametrize(
    ('where', 'endpoint_url', 'error', 'message'),
    [
        (
            's3://no-such-bucket/x',
            None,
            FileNotFoundError,
            "bucket 'no-such-bucket' does not exist",
        ),
        (f's3://{BUCKET}/nothing', None, FileNotFoundError, 'no index.json under that prefix'),
        (
            f's3://{BUCKET}/x',
            'http://127.0.0.1:9',
            ConnectionError,
            'cannot reach http://127.0.0.1:9',
        ),
    ],
    ids=['no bucket', 'no prefix', 'unreachable'],
)
def test_missing_shards_on_s3_are_named_at_once(
    endpoint: str, where: str, endpoint_url: str | None, error: type, message: str
) -> None:
    options = {'endpoint_url': endpoint_url or endpoint}
    data = StreamingPretrainDataModule(input_dir=where, batch_size=4, storage_options=options)
    with pytest.raises(error, match=message):
        data.setup('fit')


def test_a_folder_without_shards_is_named(tmp_path: Path) -> None:
    data = StreamingPretrainDataModule(input_dir=str(tmp_path), batch_size=4)
    with pytest.raises(FileNotFoundError, match=f'{tmp_path} has no index.json'):
        data.setup('fit')


def test_wrong_credentials_are_named(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import settings

    # moto's server checks credentials once past this many requests (off by default).
    monkeypatch.setattr(settings, 'INITIAL_NO_AUTH_ACTION_COUNT', 0)
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'nobody')
    data = StreamingPretrainDataModule(
        input_dir=f's3://{BUCKET}/synth', batch_size=4, storage_options={'endpoint_url': endpoint}
    )
    with pytest.raises(PermissionError, match=rf'{endpoint} refused the credentials'):
        data.setup('fit')
