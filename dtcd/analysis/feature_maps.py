"""Pictures of distillation: the input, the teacher's and the student's patch features in one
colour space, and where they agree.

Two PCAs fitted separately colour the same features differently, so their pictures cannot be
compared. Here the basis is fitted on the teacher's tokens and the student's features (already in
the teacher's space: what the loss aligns, :class:`~dtcd.distill.base.FeaturePair`) are projected
onto it with the teacher's scaling: matching colours mean matching features. The per-patch cosine
says the same in numbers; its mean is the patch loss's cosine on these images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor

from dtcd.bands import RGB

if TYPE_CHECKING:
    from dtcd.pretrain import DistillationModule

#: Non-visible bands shown as a false-colour composite (NIR, SWIR 1, red), in order of preference.
FALSE_COLOUR: tuple[tuple[str, str, str], ...] = (('B08', 'B11', 'B04'), ('B08', 'B05', 'B04'))


@dataclass
class PictureRow:
    """One row of a picture: ``[B, 3, H, W]`` RGB in [0, 1] and what it shows."""

    caption: str
    images: Tensor


@dataclass
class DistillationPicture:
    """Rows of one teacher / student feature pair for a few images.

    Attributes:
        teacher: The teacher's name (``'optical'``).
        pair: Which features (``'stage3_block8'``).
        rows: Input, false colour, teacher PCA, student PCA (same basis), cosine heat map.
        cosine: ``[B, h, w]`` per-patch cosine of student and teacher features.
    """

    teacher: str
    pair: str
    rows: list[PictureRow]
    cosine: Tensor

    @property
    def key(self) -> str:
        """``<teacher>_<pair>``, for log tags."""
        return f'{self.teacher}_{self.pair}'

    @property
    def mean_cosine(self) -> float:
        """Mean per-patch cosine: what the patch loss maximises, on these images."""
        return float(self.cosine.mean())


def shared_pca(teacher: Tensor, student: Tensor, quantile: float = 0.01) -> tuple[Tensor, Tensor]:
    """Both ``[B, D, h, w]`` maps on the teacher's top 3 principal components, as RGB in [0, 1].

    Tokens are L2-normalised first: the distillation losses compare directions (cosine), and a
    student's head outputs may be much shorter than the teacher's tokens while pointing the same
    way. The basis, centre and per-channel range (``quantile`` to ``1 - quantile`` of the
    teacher's projections) all come from the teacher; the student is projected with them and
    clipped.
    """
    teacher, student = F.normalize(teacher.float(), dim=1), F.normalize(student.float(), dim=1)
    dim = teacher.shape[1]
    tokens = teacher.permute(0, 2, 3, 1).reshape(-1, dim)
    mean = tokens.mean(dim=0)
    _, _, vectors = torch.linalg.svd(tokens - mean, full_matrices=False)
    basis = vectors[: min(3, vectors.shape[0])].T

    def project(features: Tensor) -> Tensor:
        flat = features.float().permute(0, 2, 3, 1).reshape(-1, dim) - mean
        out = flat @ basis
        return F.pad(out, (0, 3 - out.shape[1])) if out.shape[1] < 3 else out

    reference = project(teacher)
    low = torch.quantile(reference, quantile, dim=0)
    high = torch.quantile(reference, 1 - quantile, dim=0)

    def colour(projected: Tensor, shape: torch.Size) -> Tensor:
        scaled = ((projected - low) / (high - low).clamp_min(1e-6)).clamp(0, 1)
        return scaled.view(shape[0], shape[2], shape[3], 3).permute(0, 3, 1, 2)

    return colour(reference, teacher.shape), colour(project(student), student.shape)


def patch_cosine_map(teacher: Tensor, student: Tensor) -> Tensor:
    """``[B, h, w]`` cosine similarity of the two ``[B, D, h, w]`` maps at each patch."""
    return F.cosine_similarity(student.float(), teacher.float(), dim=1)


def percentile_stretch(images: Tensor, low: float = 0.02, high: float = 0.98) -> Tensor:
    """``[B, 3, H, W]`` stretched per image between its ``low`` and ``high`` quantiles."""
    flat = images.float().flatten(1)
    lows = torch.quantile(flat, low, dim=1).view(-1, 1, 1, 1)
    highs = torch.quantile(flat, high, dim=1).view(-1, 1, 1, 1)
    return ((images.float() - lows) / (highs - lows).clamp_min(1e-6)).clamp(0, 1)


def heat_map(values: Tensor, low: float = -1.0, high: float = 1.0) -> Tensor:
    """``[B, h, w]`` values in ``[low, high]`` as ``[B, 3, h, w]`` viridis colours."""
    scaled = ((values.float() - low) / (high - low)).clamp(0, 1)
    colours = matplotlib.colormaps['viridis'](scaled.cpu().numpy())[..., :3]
    return torch.from_numpy(colours).float().permute(0, 3, 1, 2)


def band_rows(images: Tensor, bands: tuple[str, ...]) -> list[PictureRow]:
    """The input's true colour and, where the bands exist, a false-colour composite."""
    rows = [PictureRow('input RGB (B04, B03, B02)', percentile_stretch(_take(images, bands, RGB)))]
    for composite in FALSE_COLOUR:
        if set(composite) <= set(bands):
            stretched = percentile_stretch(_take(images, bands, composite))
            rows.append(PictureRow(f'false colour ({", ".join(composite)})', stretched))
            break
    return rows


@torch.no_grad()
def distillation_pictures(
    module: DistillationModule, images: Tensor, size: int | None = None
) -> list[DistillationPicture]:
    """One picture per feature pair of every teacher of ``module``, for ``images``.

    Args:
        module: A :class:`~dtcd.pretrain.DistillationModule` (trained or not).
        images: ``[B, C, H, W]`` normalised images in ``module.multicrop.bands`` order.
        size: Side the images are resized to first (default: the global crop size, what the
            teachers see in training); every row is shown at this size, features upsampled
            bilinearly.
    """
    bands = tuple(module.multicrop.bands)
    size = size or module.multicrop.global_size
    x = F.interpolate(images.float(), size=(size, size), mode='bilinear', align_corners=False)
    inputs = band_rows(x, bands)
    was_training = module.student.training
    module.student.eval()
    try:
        student = module.student
        pairs = [(t.name, p) for t in module.teachers for p in t.feature_pairs(student, x, bands)]
    finally:
        module.student.train(was_training)
    pictures = []
    for teacher_name, pair in pairs:
        teacher_rgb, student_rgb = shared_pca(pair.teacher, pair.student)
        cosine = patch_cosine_map(pair.teacher, pair.student)
        rows = [
            *inputs,
            PictureRow(f'{teacher_name} teacher, PCA', _upsample(teacher_rgb, size)),
            PictureRow('student, same PCA basis', _upsample(student_rgb, size)),
            PictureRow('cosine student-teacher (-1 to 1)', _upsample(heat_map(cosine), size)),
        ]
        pictures.append(DistillationPicture(teacher_name, pair.name, rows, cosine.cpu()))
    return pictures


def render(picture: DistillationPicture, cell_inches: float = 1.6) -> Figure:
    """A matplotlib figure: one row per :class:`PictureRow` (captioned), one column per image."""
    rows, columns = len(picture.rows), picture.rows[0].images.shape[0]
    figure = Figure(figsize=(cell_inches * columns + 1.6, cell_inches * rows), layout='constrained')
    axes = figure.subplots(rows, columns, squeeze=False)
    for r, row in enumerate(picture.rows):
        axes[r, 0].set_ylabel(row.caption, fontsize='small', rotation=0, ha='right', va='center')
        for c, image in enumerate(row.images):
            axes[r, c].imshow(image.permute(1, 2, 0).cpu().numpy(), interpolation='nearest')
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
    figure.suptitle(
        f'{picture.teacher} teacher, {picture.pair}: mean patch cosine {picture.mean_cosine:.3f}'
    )
    return figure


def _take(images: Tensor, bands: tuple[str, ...], wanted: tuple[str, ...]) -> Tensor:
    return images[:, [bands.index(b) for b in wanted]]


def _upsample(maps: Tensor, size: int) -> Tensor:
    if maps.shape[-1] == size:
        return maps
    return F.interpolate(maps, size=(size, size), mode='bilinear', align_corners=False).clamp(0, 1)
