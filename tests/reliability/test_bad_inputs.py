"""Bad inputs fail early with an error of a clear type whose message names the problem and the fix.

Each case's pattern matches both: what is wrong (the value, file or setting) and what to do.
"""

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import rasterio
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader
from torchgeo.datasets import DatasetNotFoundError

from dtcd.augment import MultiCrop
from dtcd.bands import resolve_bands
from dtcd.data import SynthEOSegmentation
from dtcd.data.datamodules import PairedPretrainDataModule
from dtcd.distill import MCRObjective, OpticalDistillation, SelfDistillation
from dtcd.models import FrozenTeacher, MultiStemSwin
from dtcd.pretrain import DistillationModule
from tests.test_pretrain import Images, tiny_module, trainer

TINY = {'variant': None, 'embed_dim': 16, 'depths': [1, 1, 1, 1], 'num_heads': [1, 1, 2, 2]}


@dataclass(frozen=True)
class Case:
    """One bad input: ``make(tmp_path, synth_root)`` must raise ``error`` matching ``pattern``."""

    make: Callable[[Path, Path], object]
    error: type[Exception]
    pattern: str


def wrong_band_count(tmp_path: Path, synth_root: Path) -> object:
    return MultiStemSwin(**TINY, window_size=4).forward_features(torch.randn(1, 4, 32, 32), 'ms')


def unknown_band(tmp_path: Path, synth_root: Path) -> object:
    return resolve_bands(['B02', 'B13'])


def missing_root(tmp_path: Path, synth_root: Path) -> object:
    return PairedPretrainDataModule(root=str(tmp_path / 'nowhere')).setup('fit')


def empty_dataset(tmp_path: Path, synth_root: Path) -> object:
    (tmp_path / 'index.csv').write_text('id,ms,rgb\n')
    return PairedPretrainDataModule(root=str(tmp_path)).setup('fit')


def corrupt_geotiff(tmp_path: Path, synth_root: Path) -> object:
    root = shutil.copytree(synth_root / 'segmentation', tmp_path / 'segmentation')
    image = root / 'train' / 'images' / '00000.tif'
    with open(image, 'r+b') as f:
        f.truncate(image.stat().st_size // 2)
    return SynthEOSegmentation(root, 'train')[0]


def crop_not_multiple_of_teacher_patch(tmp_path: Path, synth_root: Path) -> object:
    module = tiny_module()
    module.multicrop = MultiCrop(global_size=100, local_size=48, num_local=2, blur_kernel_size=5)
    return module.compute_losses(torch.randn(2, 10, 120, 120), 0.0)


def missing_teacher_weights(tmp_path: Path, synth_root: Path) -> object:
    return FrozenTeacher(weights=str(tmp_path / 'dinov3_vitb16.pth'))


def unknown_backbone_spec(tmp_path: Path, synth_root: Path) -> object:
    backbones = pytest.importorskip('dtcd.probes.backbones', reason='no probe backbones module')
    return backbones.build_backbone('swin_b_from_nowhere', resolve_bands('deo10'))


CASES = {
    'wrong-band-count': Case(
        wrong_band_count, ValueError, r"Stem 'ms'.*expects \[B, 10, H, W\].*'B04'.*got shape"
    ),
    'unknown-band': Case(unknown_band, ValueError, r"\['B13'\].*Sentinel-2 bands are \['B01'"),
    'missing-root': Case(
        missing_root, DatasetNotFoundError, r'nowhere.*specify a different `root`'
    ),
    'empty-dataset': Case(
        empty_dataset, ValueError, r'No pretraining tiles .*index\.csv: add one `id,ms,rgb` row'
    ),
    'corrupt-geotiff': Case(
        corrupt_geotiff,
        rasterio.errors.RasterioIOError,
        r'Cannot read /.*/segmentation/train/images/00000\.tif: .*generate it again',
    ),
    'crop-not-multiple-of-teacher-patch': Case(
        crop_not_multiple_of_teacher_patch,
        ValueError,
        r'patch size 16, got 100x100: set the MultiCrop global_size to a multiple of 16',
    ),
    'missing-teacher-weights': Case(
        missing_teacher_weights,
        FileNotFoundError,
        r'not found at .*dinov3_vitb16\.pth.*gated download.*point `weights` at',
    ),
    'unknown-backbone-spec': Case(
        unknown_backbone_spec, ValueError, r"'swin_b_from_nowhere' is neither .*Accepted:"
    ),
}


@pytest.mark.parametrize('name', CASES)
def test_bad_input_is_explained(name: str, tmp_path: Path, synth_root: Path) -> None:
    case = CASES[name]
    with pytest.raises(case.error, match=case.pattern):
        case.make(tmp_path, synth_root)


def test_student_takes_sizes_that_are_not_multiples_of_32() -> None:
    """torchvision's Swin pads every stage to its window (as DEO's model), so 100 px just works;
    the limit on crop sizes comes from the frozen ViT teacher's patch grid (case above)."""
    model = MultiStemSwin(**TINY, window_size=4)
    maps = model.forward_features(torch.randn(1, 10, 100, 100), 'ms')
    assert [tuple(m.shape[-2:]) for m in maps] == [(25, 25), (13, 13), (7, 7), (4, 4)]


def student(**overrides: object) -> MultiStemSwin:
    return MultiStemSwin(**(TINY | {'window_size': 4} | overrides))  # type: ignore[arg-type]


def module(student: MultiStemSwin) -> DistillationModule:
    teacher = FrozenTeacher(
        'vit_small_patch16_dinov3', weights=None, blocks=[0, 1], normalization=None,
        model_kwargs={'depth': 2, 'embed_dim': 48, 'num_heads': 2},
    )  # fmt: skip
    teachers = [
        SelfDistillation(MCRObjective(out_dim=16, hidden_dim=32)),
        OpticalDistillation(teacher, hidden_dim=32),
    ]
    multicrop = MultiCrop(global_size=32, local_size=16, num_local=2, blur_kernel_size=5)
    return DistillationModule(student, teachers, multicrop)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-step pretraining checkpoint of the tiny student (window 4, DEO10 + RGB stems)."""
    folder = tmp_path_factory.mktemp('run')
    fit = trainer(folder, max_steps=1, callbacks=[ModelCheckpoint(folder, save_last=True)])
    fit.fit(module(student()), DataLoader(Images(4), batch_size=4))
    return folder / 'last.ckpt'


@pytest.mark.parametrize(
    ('changed', 'pattern'),
    [
        ({'embed_dim': 32}, r"'embed_dim': \(16, 32\)"),
        ({'window_size': 7}, r"'window_size': \(4, 7\)"),
        ({'stems': {'ms': ['B02', 'B03', 'B04', 'B08'], 'rgb': 'rgb'}}, r"'stems'.*'B08'"),
    ],
    ids=['variant', 'window', 'bands'],
)
def test_resume_with_another_student_is_explained(
    checkpoint: Path, tmp_path: Path, changed: dict, pattern: str
) -> None:
    fit = trainer(tmp_path, max_steps=2)
    with pytest.raises(ValueError, match=pattern + r'.*Resume with the config the run was started'):
        fit.fit(
            module(student(**changed)), DataLoader(Images(4), batch_size=4), ckpt_path=checkpoint
        )
