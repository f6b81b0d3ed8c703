"""`dtcd shard` and StreamingPretrainDataModule: sources to LitData shards, shards to batches.

Each source is sharded with the real verb and read back through LitData's StreamingDataset; what
comes out must be what dtcd's (and TorchGeo's) readers of the source give, band by name.
"""

import json
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torchgeo.datasets import SSL4EOS12

from dtcd.bands import DEO10, DEO_HDF5_13, S2_L1C_13, MissingBandError
from dtcd.data.datamodules import StreamingPretrainDataModule
from dtcd.data.datasets import DEOHDF5, PairedMSRGB
from dtcd.main import main
from tests.conftest import ShardSet
from tests.reliability.conftest import ROOT, dtcd, subprocess_env


def raw_samples(shards: Path) -> list[dict]:
    from litdata import StreamingDataset

    return list(StreamingDataset(str(shards)))


def module(shards: Path, **kwargs: object) -> StreamingPretrainDataModule:
    dm = StreamingPretrainDataModule(input_dir=str(shards), batch_size=4, **kwargs)  # type: ignore[arg-type]
    dm.setup('fit')
    return dm


@pytest.fixture(scope='module')
def synth_shards(sharded: Callable[[str], ShardSet]) -> Path:
    return sharded('synth').shards


def test_paired_shards_give_what_the_paired_reader_gives(
    synth_root: Path, synth_shards: Path
) -> None:
    paired = PairedMSRGB(synth_root / 'pretrain', bands=DEO10, rgb_mode='hr')
    by_id = {row['id']: i for i, row in enumerate(paired.rows)}
    samples = raw_samples(synth_shards)
    assert len(samples) == len(paired) == 32
    for raw in samples[:6]:
        meta = json.loads(raw['meta'])
        assert (meta['source'], meta['product_level'], meta['dn_scale']) == ('synth', 'L1C', 10000)
        assert raw['bands'].split(',') == list(S2_L1C_13) == meta['modalities']['ms']
        assert raw['image'].dtype.name == 'uint16' and raw['image'].shape[0] == 1  # one date
        assert raw['rgb_hr'].shape == (3, 4 * raw['image'].shape[-2], 4 * raw['image'].shape[-1])
        image = module(synth_shards).train_dataset.transform[0](raw)['image'][0]
        torch.testing.assert_close(image, paired[by_id[meta['id']]]['image'], rtol=0, atol=1e-3)
    s2 = module(synth_shards, rgb_source='s2').train_dataset.transform[0](samples[0])['image'][0]
    assert s2.dtype == torch.uint16  # digital numbers cross to the device as stored
    s2 = s2.float()
    expected = PairedMSRGB(synth_root / 'pretrain', bands=DEO10, rgb_mode='s2')
    meta = json.loads(samples[0]['meta'])
    torch.testing.assert_close(s2, expected[by_id[meta['id']]]['image'], rtol=0, atol=0)


def test_deo_hdf5_shards_keep_the_files_channels_and_dtype(
    sharded: Callable[[str], ShardSet],
) -> None:
    file = sharded('deo-hdf5').root
    samples = raw_samples(sharded('deo-hdf5').shards)
    reader = DEOHDF5(file, bands=DEO10)
    assert len(samples) == len(reader)
    for i, raw in enumerate(samples):
        assert raw['bands'].split(',') == list(DEO_HDF5_13) and raw['image'].dtype.name == 'uint16'
        image = torch.from_numpy(raw['image'][0].astype('float32'))
        index = int(json.loads(raw['meta'])['id'])
        torch.testing.assert_close(image[[DEO_HDF5_13.index(b) for b in DEO10]],
                                   reader[index]['image'])  # fmt: skip
        assert i == index  # LitData keeps the input order of a one-worker conversion


def test_ssl4eo_shards_hold_all_seasons_in_date_order(sharded: Callable[[str], ShardSet]) -> None:
    root, shards = sharded('ssl4eo-s12').root, sharded('ssl4eo-s12').shards
    samples = raw_samples(shards)
    torchgeo = SSL4EOS12(str(root), split='s2c', seasons=4)
    for location, raw in enumerate(samples):
        meta = json.loads(raw['meta'])
        assert meta['id'] == f'{location:07}' and meta['product_level'] == 'L1C'
        assert meta['dates'] == sorted(meta['dates']) and len(meta['dates']) == 4
        reference = torchgeo[location]
        order = reference['t'].argsort()
        expected = reference['image'].unflatten(0, (4, -1))[order]
        torch.testing.assert_close(torch.from_numpy(raw['image'].astype('float32')), expected)
        assert meta['lat'] == pytest.approx(float(reference['y'][0]))
    dm = module(shards, stats='ssl4eo-s2c', rgb_source='s2')
    assert dm.dates_per_sample == 4
    batch = next(iter(dm.train_dataloader()))
    assert batch['image'].shape[:2] == (4, len(DEO10))  # 4 images: one location's 4 seasons


def test_a_band_the_shards_lack_is_named(sharded: Callable[[str], ShardSet]) -> None:
    shards = sharded('ssl4eo-s12-v1.1 chunk files').shards  # L2A: no B10
    with pytest.raises(MissingBandError, match=rf"Shards in {shards}: Band\(s\) \['B10'\]"):
        module(shards, bands=[*DEO10, 'B10'], stats='ssl4eo-s2c')


def test_every_sample_once_per_epoch_in_a_new_order(synth_shards: Path) -> None:
    dm = module(synth_shards, num_workers=2)
    loader = dm.train_dataloader()
    epochs = [[tuple(image.flatten()[:8].tolist()) for b in loader for image in b['image']]
              for _ in range(2)]  # fmt: skip
    for seen in epochs:  # 32 tiles, batch 4: no partial batch to drop
        assert len(seen) == 32 and set(Counter(seen).values()) == {1}
    assert set(epochs[0]) == set(epochs[1]) and epochs[0] != epochs[1]


@pytest.mark.parametrize('damage', ['missing', 'truncated'])
def test_a_missing_or_truncated_chunk_is_named_at_setup(
    synth_shards: Path, tmp_path: Path, damage: str
) -> None:
    shards = tmp_path / 'shards'
    shutil.copytree(synth_shards, shards)
    chunk = sorted(shards.glob('chunk-*.bin'))[-1]
    if damage == 'missing':
        chunk.unlink()
        message = f'chunk {chunk.name}, listed in index.json, is missing'
    else:
        size = chunk.stat().st_size
        os.truncate(chunk, size // 2)
        message = f'chunk {chunk.name} has {size // 2} bytes where index.json lists {size}'
    with pytest.raises((FileNotFoundError, ValueError), match=message):
        module(shards)


def finished_chunks(out: Path) -> list[str]:
    """The chunks LitData's conversion checkpoint records as written (one being written is not)."""
    names = []
    for file in out.glob('.checkpoints/checkpoint-*.json'):
        try:
            names += [chunk['filename'] for chunk in json.loads(file.read_text())['chunks']]
        except (json.JSONDecodeError, OSError):  # caught mid-write: not finished yet
            pass
    return names


@pytest.mark.slow
def test_a_killed_conversion_continues_where_it_stopped(
    synth_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / 'shards'
    command = dtcd(
        'shard', 'synth', str(synth_root), str(out), '--chunk-bytes', '310KB'
    )  # a chunk per tile
    converting = subprocess.Popen(command, cwd=ROOT, env=subprocess_env(), start_new_session=True,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while len(finished_chunks(out)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(converting.pid, signal.SIGKILL)  # the command and its spawned workers
    converting.wait()
    assert not (out / 'index.json').exists()
    before = {name: Path(out, name).stat().st_mtime_ns for name in finished_chunks(out)}
    assert 2 <= len(before) < 32
    main(command[3:])  # run again (in this process: the command after `python -m dtcd.main`)
    assert 'wrote 32 samples of synth' in capsys.readouterr().out
    # The finished chunks were kept, not written again.
    assert all(Path(out, name).stat().st_mtime_ns == mtime for name, mtime in before.items())
    ids = [json.loads(sample['meta'])['id'] for sample in raw_samples(out)]
    assert len(ids) == len(set(ids)) == 32


@pytest.mark.parametrize(('workers', 'persistent'), [(0, True), (2, False)])
def test_a_resume_without_persistent_workers_is_refused(
    synth_shards: Path, workers: int, persistent: bool
) -> None:
    def datamodule(workers: int, persistent: bool) -> StreamingPretrainDataModule:
        return StreamingPretrainDataModule(
            input_dir=str(synth_shards), batch_size=4, num_workers=workers,
            persistent_workers=persistent,
        )  # fmt: skip

    with pytest.raises(ValueError, match='needs loader workers that persist'):
        datamodule(workers, persistent).load_state_dict(datamodule(2, True).state_dict())
    datamodule(2, True).load_state_dict(datamodule(2, True).state_dict())
