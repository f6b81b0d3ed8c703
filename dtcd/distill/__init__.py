"""Teachers of the distillation loop: each owns its network, student-side heads and loss."""

from dtcd.distill.base import StudentOutputs, StudentPass, Teacher
from dtcd.distill.objectives import DINOObjective, MCRObjective, Objective
from dtcd.distill.optical import OpticalDistillation
from dtcd.distill.self_distillation import SelfDistillation

__all__ = [
    'DINOObjective',
    'MCRObjective',
    'Objective',
    'OpticalDistillation',
    'SelfDistillation',
    'StudentOutputs',
    'StudentPass',
    'Teacher',
]
