"""Networks: the multi-stem Swin student, projection heads, teachers and weight files."""

from dtcd.models.checkpoints import (
    export_backbone,
    export_vit_teacher,
    load_backbone,
    load_deo_weights,
)
from dtcd.models.features import StageFeatures
from dtcd.models.heads import DINOHead, ProjectionHead
from dtcd.models.student import VARIANTS, MultiStemSwin, PatchStem, Student
from dtcd.models.teachers import (
    TEACHER_NORMALIZATION,
    EMATeacher,
    FrozenTeacher,
)
from dtcd.models.vit_student import ViTStudent

__all__ = [
    'TEACHER_NORMALIZATION',
    'VARIANTS',
    'DINOHead',
    'EMATeacher',
    'FrozenTeacher',
    'MultiStemSwin',
    'PatchStem',
    'ProjectionHead',
    'StageFeatures',
    'Student',
    'ViTStudent',
    'export_backbone',
    'export_vit_teacher',
    'load_backbone',
    'load_deo_weights',
]
