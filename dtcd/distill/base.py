"""What every teacher of the distillation loop provides, and what the student hands it.

Teachers are the unit of extension: DEO is "EMA teacher + frozen optical teacher"; a SAR or
second optical teacher is one more entry in the YAML list. Each teacher owns its network, its
student-side heads and its loss; the student runs once per (stem, view group) and all teachers
read the same :class:`StudentPass`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

from torch import Tensor, nn

from dtcd.augment import MultiCropViews
from dtcd.models import StageFeatures, Student

#: ``global_masked`` is the global views with iBOT masks applied after the stem.
ViewGroup = Literal['global', 'global_masked', 'local']


@dataclass(frozen=True)
class StudentPass(StageFeatures):
    """The student's :class:`~dtcd.models.StageFeatures` for one stem on one view group, views
    flattened view-major (maps ``[V·B, C_s, h_s, w_s]``, pooled ``[V·B, D]``).

    Attributes:
        num_views: ``V``, to unflatten into ``[V, B, ...]``.
    """

    num_views: int

    def pooled_views(self) -> Tensor:
        """``pooled`` as ``[V, B, D]``."""
        return self.pooled.unflatten(0, (self.num_views, -1))


#: Student outputs keyed by ``(stem, view group)``.
StudentOutputs = dict[tuple[str, ViewGroup], StudentPass]


@dataclass
class FeaturePair:
    """A teacher's and the student's patch features of the same images in one space.

    What a teacher's loss aligns (the optical teacher's tokens and the student's patch-head
    outputs; the EMA teacher's and the student's stage maps), so one PCA basis colours both and
    a per-patch cosine compares them.

    Attributes:
        name: What is paired, e.g. ``'stage3_block8'``.
        teacher: ``[B, D, h, w]`` teacher features.
        student: ``[B, D, h, w]`` student features on the teacher's grid.
    """

    name: str
    teacher: Tensor
    student: Tensor


class Teacher(nn.Module, ABC):
    """A teacher with its student-side heads and loss.

    Lifecycle: the :class:`~dtcd.pretrain.DistillationModule` calls :meth:`bind` once with the
    student (to size heads and copy weights), then per step :meth:`targets` (no grad),
    :meth:`loss`, and after each optimizer step :meth:`update`.

    Args:
        name: Prefix of this teacher's logged loss terms.
        weight: Weight of this teacher's loss in the total.
    """

    def __init__(self, name: str, weight: float = 1.0) -> None:
        super().__init__()
        self.name = name
        self.weight = weight

    @abstractmethod
    def bind(self, student: Student) -> None:
        """Build the heads (and any copy of the student) for this student."""

    @abstractmethod
    def required_passes(self) -> set[tuple[str, ViewGroup]]:
        """The ``(stem, view group)`` student passes :meth:`loss` reads."""

    @abstractmethod
    def targets(self, views: MultiCropViews, bands: tuple[str, ...], progress: float) -> Any:
        """Teacher outputs for ``views`` (channels named ``bands``), computed without gradients."""

    @abstractmethod
    def loss(self, student: StudentOutputs, targets: Any, progress: float) -> dict[str, Tensor]:
        """Loss terms; ``'loss'`` is this teacher's (unweighted) total."""

    def before_optimizer_step(self, progress: float) -> None:
        """Called with gradients ready, before each optimizer step; nothing by default."""

    def update(self, student: Student, progress: float) -> None:
        """Called once after each optimizer step (EMA, centering); nothing by default."""

    def compile_networks(self) -> None:
        """``torch.compile`` the networks :meth:`targets` runs, in place; nothing by default."""

    def masking_token(self) -> Tensor | None:
        """The learnt token that replaces masked cells of ``global_masked`` passes, if any."""
        return None

    def scalars(self, progress: float) -> dict[str, float]:
        """Schedule values worth logging at ``progress`` (e.g. EMA momentum); none by default."""
        return {}

    def student_features(self, student: StudentOutputs) -> dict[str, Tensor]:
        """Embeddings worth monitoring for collapse, ``[N, D]`` by name; none by default."""
        return {}

    def feature_pairs(
        self, student: Student, images: Tensor, bands: tuple[str, ...]
    ) -> list[FeaturePair]:
        """Teacher and student features of ``images`` (channels ``bands``) that the loss aligns,
        for pictures; none by default."""
        return []

    def sample_masks(self, views: MultiCropViews) -> Tensor:
        """iBOT masks of the global views; only teachers that ask for ``global_masked``."""
        raise NotImplementedError(f'{type(self).__name__} does not mask views.')
