"""Teachers of the distillation loop: each owns its network, student-side heads and loss."""

from dtcd.distill.base import StudentOutputs, StudentPass, Teacher
from dtcd.distill.controls import ShuffledTargets
from dtcd.distill.objectives import DINOObjective, MCRObjective, Objective
from dtcd.distill.optical import OpticalDistillation
from dtcd.distill.self_distillation import SelfDistillation

__all__ = [
    'DINOObjective',
    'MCRObjective',
    'Objective',
    'OpticalDistillation',
    'SelfDistillation',
    'ShuffledTargets',
    'StudentOutputs',
    'StudentPass',
    'Teacher',
]
