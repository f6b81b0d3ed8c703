"""Every pretraining source ``dtcd shard`` converts: the shards hold exactly what the source's
reader gives, and ``dtcd fit`` with StreamingPretrainDataModule trains on them from a folder and
from the S3 server on localhost."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litdata import StreamingDataset

from dtcd.data.shards import upload
from dtcd.main import main
from tests.conftest import BUCKET, SHARD_SOURCES, ShardSet
from tests.reliability.conftest import TINY_CONFIG, scalars

BATCH = 4  # images per step: one location of 4 dates, or 4 single-date samples
SMALL_BATCH = 2  # for the 3 single-date Major TOM patches


def fit(input_dir: str, endpoint: str, batch: int, out: Path, *extra: str) -> dict[int, float]:
    """``dtcd fit`` (the tiny config) on ``input_dir``; the logged losses by step."""
    data = out / 'data.yaml'
    out.mkdir(parents=True)
    data.write_text(
        'data:\n  class_path: dtcd.data.datamodules.StreamingPretrainDataModule\n'
        f'  init_args: {{input_dir: "{input_dir}", batch_size: {batch}, num_workers: 0,\n'
        f'    storage_options: {{endpoint_url: "{endpoint}"}}, cache_dir: {out / "cache"}}}\n'
    )
    main(['fit', '--config', str(TINY_CONFIG), '--config', str(data),
          f'--trainer.logger.init_args.save_dir={out}', *extra])  # fmt: skip
    return scalars(out / 'tiny' / 'version_0', 'train/loss')


@pytest.mark.slow
@pytest.mark.parametrize('name', SHARD_SOURCES)
def test_each_source_shards_to_its_reader_samples_and_trains_from_folder_and_s3(
    name: str, sharded: Any, endpoint: str, tmp_path: Path
) -> None:
    shard_set: ShardSet = sharded(name)
    reader = shard_set.reader()
    by_id = {}
    for index in range(len(reader)):
        sample = reader(index)
        by_id[json.loads(sample['meta'])['id']] = sample
    stored = list(StreamingDataset(str(shard_set.shards)))
    assert len(stored) == len(by_id) == len(reader)
    for sample in stored:
        original = by_id[json.loads(sample['meta'])['id']]
        assert sample.keys() == original.keys()
        for field, value in sample.items():
            if isinstance(value, np.ndarray):
                assert value.dtype == original[field].dtype, field
                np.testing.assert_array_equal(value, original[field], err_msg=field)
            else:
                assert value == original[field], field

    if name == 'paired':
        return  # synth's pretrain/ through the same reader: its training runs are synth's
    # From the folder, two whole epochs: every full batch of every epoch is a logged step.
    images = len(stored) * stored[0]['image'].shape[0]
    batch = BATCH if images >= BATCH else SMALL_BATCH
    losses = fit(str(shard_set.shards), endpoint, batch, tmp_path / 'folder')
    steps_per_epoch = images // batch
    assert sorted(losses) == list(range(2 * steps_per_epoch))
    assert np.isfinite(list(losses.values())).all()

    url = f's3://{BUCKET}/{name.replace(" ", "-")}'
    upload(shard_set.shards, url, {'endpoint_url': endpoint})
    losses = fit(url, endpoint, batch, tmp_path / 's3', '--trainer.max_steps=2')
    assert sorted(losses) == [0, 1] and np.isfinite(list(losses.values())).all()
    assert list((tmp_path / 's3' / 'cache').rglob('*.bin'))  # chunks came from the server
