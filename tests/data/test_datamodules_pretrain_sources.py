"""SSL4EO-S12 and DEO HDF5 pretraining DataModules on fake copies in the real layouts."""

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import dtcd.data.datamodules as datamodules
from dtcd.bands import DEO10, DEO_HDF5_13, MissingBandError, band_indices
from dtcd.data import DEOHDF5
from dtcd.data.datamodules import DatasetLayoutError, HDF5PretrainDataModule, SSL4EOS12DataModule
from dtcd.main import main
from tests.data.batch_checker import BatchChecker, codes_arg, fit
from tests.data.fake import deo_hdf5, ssl4eo_s12
from tests.data.fake.codes import CODES


@pytest.fixture(scope='module')
def ssl4eo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp('ssl4eo')
    ssl4eo_s12.write(root, split='s2c', locations=3)
    return ssl4eo_s12.write(root, seed=1, split='s2a', locations=2)


def test_ssl4eo_fit_seasons_become_samples(ssl4eo_root: Path, tmp_path: Path) -> None:
    seen = fit('ssl4eo_s12', ssl4eo_root, tmp_path, *codes_arg(CODES))
    assert [s['image'] for s in seen] == [(4, 10, 264, 264), (4, 10, 264, 264)]


def test_ssl4eo_counts_locations_and_orders_seasons(ssl4eo_root: Path) -> None:
    dm = SSL4EOS12DataModule(str(ssl4eo_root), 's2a', seasons=4, val_fraction=0.5, batch_size=4)
    dm.setup('fit')
    assert len(dm.train_dataset) + len(dm.val_dataset) == 2  # not TorchGeo's 251079
    batch = dm.aug(next(iter(dm.train_dataloader())))  # one location, its 4 seasons
    assert batch['image'].shape == (4, 10, 264, 264) and dm.bands == DEO10
    mean, std = dm.mean[:1], dm.std[:1]  # B04 is DEO10's first band
    b04 = torch.cat([BatchChecker.raw_medians(im[:1], mean, std) for im in batch['image']])
    season = ((b04 - CODES['B04']) // ssl4eo_s12.SEASON_STEP).tolist()
    assert season == [0, 1, 2, 3]  # date order, whatever order TorchGeo drew them in


def test_ssl4eo_errors(ssl4eo_root: Path, tmp_path: Path) -> None:
    with pytest.raises(MissingBandError, match='B10'):
        SSL4EOS12DataModule(str(ssl4eo_root), 's2a', bands=['B04', 'B10'])
    with pytest.raises(ValueError, match='multiple of seasons'):
        SSL4EOS12DataModule(str(ssl4eo_root), seasons=4, batch_size=6)
    with pytest.raises(DatasetLayoutError, match=r'(?s)SSL4EO-S12.*zhu-xlab'):
        SSL4EOS12DataModule(str(tmp_path)).setup('fit')


@pytest.mark.parametrize('layout', ['nchw', 'nhwc'])
def test_hdf5_layouts_and_limit(layout: str, tmp_path: Path) -> None:
    path = deo_hdf5.write(tmp_path, layout=layout)
    full = DEOHDF5(path, layout=layout)
    assert len(full) == deo_hdf5.COUNT
    image = full[0]['image']
    assert image.shape == (10, 32, 32) and image.dtype == torch.float32
    medians = image.flatten(1).median(dim=1).values
    assert all(0 <= m - CODES[b] < 20 for b, m in zip(DEO10, medians.tolist(), strict=True))
    subset = DEOHDF5(path, layout=layout, limit=5, seed=3)
    assert len(subset) == 5 and subset.indices == sorted(set(subset.indices))
    assert subset.indices == DEOHDF5(path, layout=layout, limit=5, seed=3).indices  # seeded
    with pytest.raises(ValueError, match='needs 4 axes and at least 13 channels'):
        DEOHDF5(path, layout='nhwc' if layout == 'nchw' else 'nchw')


def test_hdf5_workers_open_their_own_file(tmp_path: Path) -> None:
    dataset = DEOHDF5(deo_hdf5.write(tmp_path))
    dataset[0]  # the main process opens its handle first
    loader = DataLoader(dataset, batch_size=3, num_workers=2)
    images = torch.cat([batch['image'] for batch in loader])
    assert images.shape == (deo_hdf5.COUNT, 10, 32, 32)
    with h5py.File(tmp_path / 'fmow_sentinel.h5') as f:
        tile = torch.from_numpy(f['images'][7].astype('float32'))
    assert torch.equal(images[7], tile[band_indices(DEO_HDF5_13, DEO10)])


#: The DEO authors' loader: these file channels, in this order, are their model's 10 bands.
AUTHORS_CHANNELS = [1, 2, 3, 4, 5, 6, 7, 8, 11, 12]


@pytest.mark.parametrize('channels', [13, 15])
def test_hdf5_defaults_return_the_authors_channels(tmp_path: Path, channels: int) -> None:
    """Channel ``c`` holds ``c``: the default read is the authors' index list, extra channels
    ignored as their loader ignores them."""
    tiles = np.broadcast_to(
        np.arange(channels, dtype=np.uint16)[None, :, None, None], (3, channels, 8, 8)
    )
    path = tmp_path / 'authors.h5'
    with h5py.File(path, 'w') as f:
        f.create_dataset('images', data=np.ascontiguousarray(tiles))
    image = DEOHDF5(path)[0]['image']
    assert image[:, 0, 0].tolist() == AUTHORS_CHANNELS
    assert image.shape == (10, 8, 8)


def test_hdf5_fit_with_two_workers(tmp_path: Path) -> None:
    path = deo_hdf5.write(tmp_path / 'data')
    seen = fit('deo_hdf5', path, tmp_path, *codes_arg(CODES), '--data.init_args.limit', '8')
    assert [s['image'] for s in seen] == [(4, 10, 32, 32), (1, 10, 32, 32)]


def test_hdf5_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match=r"(?s)'images'.*fMoW-Sentinel"):
        HDF5PretrainDataModule(str(tmp_path / 'missing.h5')).setup('fit')
    with pytest.raises(MissingBandError, match='B10'):
        HDF5PretrainDataModule(str(tmp_path), file_bands='s2_l2a', bands=['B04', 'B10'])


@pytest.mark.parametrize('source', ['ssl4eo_s12', 'deo_hdf5'])
def test_pretraining_sources_feed_the_distillation_module(
    source: str, ssl4eo_root: Path, tmp_path: Path
) -> None:
    """SSL4EO-S12 and the DEO HDF5 file through `dtcd fit` with the real DistillationModule."""
    if source == 'ssl4eo_s12':
        data = ['--data', 'dtcd.data.datamodules.SSL4EOS12DataModule']
        data += ['--data.init_args.root', str(ssl4eo_root), '--data.init_args.val_fraction', '0.3']
    else:
        data = ['--data', 'dtcd.data.datamodules.HDF5PretrainDataModule']
        data += ['--data.init_args.root', str(deo_hdf5.write(tmp_path))]
    main(
        [
            'fit', '--config', str(Path(__file__).parents[1] / 'conf' / 'pretrain_tiny.yaml'),
            *data, '--data.init_args.batch_size', '4',
            '--trainer.max_steps', '2', '--trainer.limit_val_batches', '1',
            '--trainer.default_root_dir', str(tmp_path), '--trainer.logger', 'false',
            '--trainer.enable_checkpointing', 'false', '--trainer.callbacks', 'null',
        ]
    )  # fmt: skip


@pytest.mark.parametrize(
    'name',
    [
        'PairedPretrainDataModule',
        'SSL4EOS12DataModule',
        'HDF5PretrainDataModule',
        'So2SatDataModule',
        'OSCDDataModule',
    ],
)
@pytest.mark.parametrize('val_fraction', [0.0, 1.0])
def test_val_fraction_outside_0_1_is_refused_when_built(name: str, val_fraction: float) -> None:
    """One check serves every DataModule with a held-out share (pretraining and downstream)."""
    with pytest.raises(ValueError, match=r'val_fraction must lie in \(0, 1\)'):
        getattr(datamodules, name)(val_fraction=val_fraction)
