"""Distillation pictures: layout, value ranges, one PCA basis for teacher and student, and the
cosine map; and the TensorBoard figures the callback writes."""

from pathlib import Path

import pytest
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from matplotlib.figure import Figure
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.data import DataLoader

from dtcd.analysis.feature_maps import (
    distillation_pictures,
    patch_cosine_map,
    percentile_stretch,
    render,
    shared_pca,
)
from tests.test_pretrain import Images, tiny_module, trainer


def test_pictures_of_every_teacher_pair_have_the_documented_layout() -> None:
    module = tiny_module()
    images = torch.randn(3, 10, 40, 40)
    pictures = distillation_pictures(module, images)
    # tiny_module: optical stages 3, 4 <-> teacher blocks 0, 1; the EMA teacher's last stage.
    assert [p.key for p in pictures] == [
        'ms_stage4',
        'optical_stage3_block0',
        'optical_stage4_block1',
    ]
    size = module.multicrop.global_size
    for picture in pictures:
        captions = [row.caption for row in picture.rows]
        assert captions[0].startswith('input RGB') and captions[1].startswith('false colour')
        assert captions[2:] == [
            f'{picture.teacher} teacher, PCA',
            'student, same PCA basis',
            'cosine student-teacher (-1 to 1)',
        ]
        for row in picture.rows:
            assert row.images.shape == (3, 3, size, size)
            assert row.images.min() >= 0 and row.images.max() <= 1
        assert -1 <= picture.mean_cosine <= 1
    assert module.student.training  # left as it was
    module.teachers[1].patch_weight = 0.0  # CLS only: the patch heads are never trained
    assert [p.key for p in distillation_pictures(module, images)] == ['ms_stage4']


def test_equal_features_get_equal_colours_and_cosine_one() -> None:
    torch.manual_seed(0)
    teacher = torch.randn(2, 16, 4, 4)
    teacher_rgb, student_rgb = shared_pca(teacher, teacher.clone())
    assert torch.equal(teacher_rgb, student_rgb)
    assert torch.allclose(patch_cosine_map(teacher, teacher), torch.ones(2, 4, 4))
    other = teacher.clone()
    other[:, :, 0, 0] = -other[:, :, 0, 0]  # one patch points the other way
    cosine = patch_cosine_map(teacher, other)
    assert cosine[:, 0, 0].allclose(torch.full((2,), -1.0)) and cosine[:, 1:].allclose(
        torch.ones(1)
    )


def test_the_basis_is_the_teachers() -> None:
    """The teacher's colours do not depend on the student (a PCA fitted on both would), and a
    student pointing the teacher's way at another length gets the teacher's colours."""
    torch.manual_seed(0)
    teacher = torch.randn(2, 16, 4, 4)
    first, _ = shared_pca(teacher, torch.randn(2, 16, 4, 4))
    second, _ = shared_pca(teacher, 10 * torch.randn(2, 16, 4, 4))
    assert torch.equal(first, second)
    _, shorter = shared_pca(teacher, 0.01 * teacher)
    assert torch.allclose(shorter, first, atol=1e-5)


def test_percentile_stretch_uses_each_images_own_range() -> None:
    images = torch.stack(
        [torch.linspace(0, 1, 300).view(3, 10, 10), torch.linspace(5, 100, 300).view(3, 10, 10)]
    )
    stretched = percentile_stretch(images)
    for image in stretched:
        assert image.min() == 0 and image.max() == 1


def test_render_captions_every_row() -> None:
    picture = distillation_pictures(tiny_module(), torch.randn(2, 10, 40, 40))[1]
    figure = render(picture)
    assert isinstance(figure, Figure)
    axes = figure.get_axes()
    assert len(axes) == len(picture.rows) * 2
    assert [axes[2 * r].get_ylabel() for r in range(len(picture.rows))] == [
        row.caption for row in picture.rows
    ]
    assert f'{picture.mean_cosine:.3f}' in figure._suptitle.get_text()


@pytest.mark.parametrize('every', [2])
def test_callback_logs_first_periodic_and_last_pictures(tmp_path: Path, every: int) -> None:
    module = tiny_module(image_log_every_n_steps=every)
    logger = TensorBoardLogger(tmp_path, name='run', version=0)
    fit = trainer(tmp_path, max_steps=5, logger=logger, log_every_n_steps=1)
    fit.fit(module, DataLoader(Images(), batch_size=4))
    events = EventAccumulator(str(tmp_path / 'run' / 'version_0'), size_guidance={'images': 0})
    events.Reload()
    assert sorted(events.Tags()['images']) == [
        'features/ms_stage4',
        'features/optical_stage3_block0',
        'features/optical_stage4_block1',
    ]
    steps = [e.step for e in events.Images('features/optical_stage3_block0')]
    assert steps == [0, 2, 4, 5]
    cosine = events.Scalars('features/optical_stage3_block0_cosine')
    assert [e.step for e in cosine] == steps and all(-1 <= e.value <= 1 for e in cosine)
