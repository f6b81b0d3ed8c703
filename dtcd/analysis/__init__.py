"""Post-hoc analysis: representation similarity (CKA) and sweep reports (tables, figures)."""

from dtcd.analysis.cka import linear_cka
from dtcd.analysis.report import Result, average_ranks, group_average, markdown, read_csv, write_csv

__all__ = [
    'Result',
    'average_ranks',
    'group_average',
    'linear_cka',
    'markdown',
    'read_csv',
    'write_csv',
]
