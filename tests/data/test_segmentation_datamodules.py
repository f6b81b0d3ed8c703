"""SpaceNet 1, Sen1Floods11 and PASTIS DataModules on tiny copies in their real on-disk layouts."""

from pathlib import Path

import pytest
import torch

from dtcd.bands import DEO10, S2_L1C_13, MissingBandError
from dtcd.data.datamodules.layout import DatasetLayoutError
from dtcd.data.datamodules.segmentation import (
    PASTIS_S2,
    PASTISDataModule,
    Sen1Floods11DataModule,
    SpaceNet1DataModule,
)
from dtcd.data.segmentation_datasets import Sen1Floods11
from tests.data.fake import pastis, sen1floods11, spacenet1


@pytest.fixture(scope='module')
def spacenet_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return spacenet1.write(tmp_path_factory.mktemp('spacenet1'))


@pytest.fixture(scope='module')
def floods_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sen1floods11.write(tmp_path_factory.mktemp('sen1floods11'))


@pytest.fixture(scope='module')
def pastis_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pastis.write(tmp_path_factory.mktemp('pastis'))


def first_pixels(dataset: torch.utils.data.Dataset, channel: int = 0) -> list[float]:
    return [dataset[i]['image'][channel, 0, 0].item() for i in range(len(dataset))]


# SpaceNet 1


def test_spacenet1_paper_splits_in_tile_number_order(spacenet_root: Path) -> None:
    dm = SpaceNet1DataModule(root=str(spacenet_root), batch_size=2)
    dm.setup('fit')
    assert dm.input_size == 224 and dm.num_classes == 2 and dm.task == 'segmentation'
    # 10 tiles split 4999 : 1000 : 941 → 7 : 1 : 2, ordered img1, img2, …, img10 (not img1, img10).
    red = [spacenet1.channel_value(n, 0) for n in range(1, 11)]
    assert first_pixels(dm.train_dataset) == red[:7]
    assert first_pixels(dm.val_dataset) == red[7:8]
    assert first_pixels(dm.test_dataset) == red[8:]


@pytest.mark.parametrize(
    ('count', 'parts'),
    [(6940, (4999, 1000, 941)), (10, (7, 1, 2)), (4, (2, 1, 1)), (3, (1, 1, 1))],
)
def test_spacenet1_small_copies_keep_every_part(count: int, parts: tuple[int, int, int]) -> None:
    """TorchGeo's own SpaceNet 1 test data has 4 tiles: 2 / 1 / 1, not an error."""
    ranges = SpaceNet1DataModule()._split_ranges(count)
    assert tuple(len(ranges[s]) for s in ('train', 'val', 'test')) == parts
    assert [i for s in ('train', 'val', 'test') for i in ranges[s]] == list(range(count))


def test_spacenet1_too_few_tiles_is_named() -> None:
    with pytest.raises(ValueError, match='2 tiles, too few'):
        SpaceNet1DataModule()._split_ranges(2)


def test_spacenet1_footprints_are_rasterised(spacenet_root: Path) -> None:
    dm = SpaceNet1DataModule(root=str(spacenet_root))
    train = dm.build_dataset('train', dm.reindex)
    sample = train[0]
    assert sample['image'].shape == (3, spacenet1.HEIGHT, spacenet1.WIDTH)
    assert sample['mask'].dtype == torch.int64
    expected = torch.zeros(spacenet1.HEIGHT, spacenet1.WIDTH, dtype=torch.int64)
    (r0, r1), (c0, c1) = spacenet1.BUILDING_ROWS, spacenet1.BUILDING_COLS
    expected[r0:r1, c0:c1] = 1
    assert torch.equal(sample['mask'], expected)
    assert train[2]['mask'].sum() == 0  # img3 has an empty FeatureCollection


def test_spacenet1_low_data_is_the_first_tiles(spacenet_root: Path) -> None:
    dm = SpaceNet1DataModule(root=str(spacenet_root), train_fraction=0.3)
    dm.setup('fit')
    # int(0.3 · 7) = 2 first tiles, as the paper's first 499 of 4999.
    assert first_pixels(dm.train_dataset) == [spacenet1.channel_value(n, 0) for n in (1, 2)]


def test_spacenet1_bands_by_name_and_batch_shapes(spacenet_root: Path) -> None:
    dm = SpaceNet1DataModule(root=str(spacenet_root), bands=['B02', 'B04'], batch_size=2)
    dm.setup('fit')
    batch = next(iter(dm.train_dataloader()))
    blue, red = batch['image'][:, 0, 0, 0], batch['image'][:, 1, 0, 0]
    assert torch.equal(blue - red, torch.full_like(blue, 2.0))  # B = 20n + 3, R = 20n + 1
    out = dm.train_aug(batch)
    assert out['image'].shape == (2, 2, 224, 224) and out['image'].dtype == torch.float32
    assert out['mask'].shape == (2, 224, 224) and out['mask'].dtype == torch.int64
    assert set(out['mask'].unique().tolist()) <= {0, 1}


def test_spacenet1_missing_root_explains_layout(tmp_path: Path) -> None:
    dm = SpaceNet1DataModule(root=str(tmp_path / 'absent'))
    with pytest.raises(DatasetLayoutError, match=r'(?s)3band_AOI_1_RIO_img<n>.*s3://spacenet'):
        dm.setup('fit')
    assert not (tmp_path / 'absent').exists()  # TorchGeo's class would have created folders


# Sen1Floods11


def test_sen1floods11_sample_bands_and_no_data(floods_root: Path) -> None:
    ds = Sen1Floods11(floods_root, 'val')
    assert len(ds) == 2
    sample = ds[1]
    image, mask = sample['image'], sample['mask']
    assert (
        image.shape == (13, sen1floods11.SIDE, sen1floods11.SIDE) and image.dtype == torch.float32
    )
    chip = sen1floods11.SPLITS['train'] + 1
    assert image[:, 5, 5].tolist() == [100.0 * i + chip for i in range(13)]
    assert torch.isnan(image[0, 0, 0])
    assert mask.dtype == torch.int64
    assert (mask[: sen1floods11.NO_DATA_ROWS] == Sen1Floods11.ignore_index).all()
    assert set(mask[sen1floods11.NO_DATA_ROWS :].unique().tolist()) == {0, 1}


def test_sen1floods11_datamodule_batches(floods_root: Path) -> None:
    dm = Sen1Floods11DataModule(root=str(floods_root), bands='deo10', batch_size=2)
    assert dm.input_size == 512 and dm.ignore_index == 255 and dm.num_classes == 2
    dm.setup('fit')
    assert [len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset)] == [4, 2, 2]
    batch = next(iter(dm.val_dataloader()))
    expected = [100.0 * S2_L1C_13.index(b) for b in DEO10]
    assert (batch['image'][:, :, 5, 5] - batch['image'][:, :1, 5, 5]).tolist()[0] == [
        e - expected[0] for e in expected
    ]
    dm.input_size = 16  # a downsizing resize: masks must stay nearest-neighbour
    dm._build_augmentations()
    out = dm.aug(batch)
    assert out['image'].shape == (2, 10, 16, 16) and torch.isfinite(out['image']).all()
    assert out['mask'].shape == (2, 16, 16) and out['mask'].dtype == torch.int64
    assert set(out['mask'].unique().tolist()) == {0, 1, 255}
    assert (out['mask'][:, :2] == 255).all()  # the no-data rows, halved


def test_sen1floods11_nan_filled_and_low_data(floods_root: Path) -> None:
    dm = Sen1Floods11DataModule(
        root=str(floods_root), input_size=8, train_fraction=0.5, batch_size=2
    )
    dm.setup('fit')
    assert len(dm.train_dataset) == 2
    batch = next(iter(dm.train_dataloader()))
    assert torch.isnan(batch['image']).any()
    out = dm.train_aug(batch)
    assert out['image'].shape == (2, 13, 8, 8) and torch.isfinite(out['image']).all()


def test_sen1floods11_missing_root_explains_layout(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r'flood_train_data\.csv.*gs://sen1floods11'):
        Sen1Floods11(tmp_path)
    dm = Sen1Floods11DataModule(root=str(tmp_path))
    with pytest.raises(DatasetLayoutError, match=r'(?s)flood_train_data\.csv.*S2Hand.*gs://'):
        dm.setup('fit')


# PASTIS


def test_pastis_folds_median_and_void(pastis_root: Path) -> None:
    dm = PASTISDataModule(root=str(pastis_root), bands='deo10', batch_size=2)
    assert dm.input_size == 128 and dm.num_classes == 20 and dm.ignore_index == 19
    dm.setup('fit')
    assert [len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset)] == [6, 2, 2]
    for k in range(len(dm.test_dataset)):  # fold 5: patches 8 and 9
        patch = pastis.FIRST_ID + 8 + k
        sample = dm.test_dataset[k]
        expected = [100.0 * PASTIS_S2.index(b) + pastis.median_offset(patch) for b in DEO10]
        assert sample['image'].shape == (10, pastis.SIDE, pastis.SIDE)
        assert sample['image'][:, 3, 3].tolist() == expected
        assert sample['mask'].dtype == torch.int64
        assert (sample['mask'][0] == 19).all()


def test_pastis_batch_shapes(pastis_root: Path) -> None:
    dm = PASTISDataModule(root=str(pastis_root), input_size=8, batch_size=2)
    dm.setup('fit')
    out = dm.train_aug(next(iter(dm.train_dataloader())))
    assert out['image'].shape == (2, 10, 8, 8) and out['image'].dtype == torch.float32
    assert out['mask'].shape == (2, 8, 8) and out['mask'].dtype == torch.int64


def test_pastis_missing_band_and_root(pastis_root: Path, tmp_path: Path) -> None:
    with pytest.raises(MissingBandError, match='B01'):
        PASTISDataModule(root=str(pastis_root), bands='s2_l1c')
    dm = PASTISDataModule(root=str(tmp_path))
    with pytest.raises(DatasetLayoutError, match=r'(?s)metadata\.geojson.*zenodo'):
        dm.setup('fit')


def test_training_crops_pad_labels_as_unlabelled(tmp_path: Path) -> None:
    """Chips smaller than the crop are padded with the band mean and ignore_index, not class 0."""
    dm = Sen1Floods11DataModule(root=str(sen1floods11.write(tmp_path)), input_size=48, batch_size=2)
    dm.setup('fit')
    batch = dm.train_aug(next(iter(dm.train_dataloader())))
    assert batch['image'].shape[-2:] == (48, 48) and batch['mask'].shape[-2:] == (48, 48)
    side = sen1floods11.SIDE
    labelled = (batch['mask'] != 255).sum().item()
    # Only the chips' own labelled pixels (rows below the no-data band) can carry a class.
    assert labelled == 2 * (side - sen1floods11.NO_DATA_ROWS) * side
