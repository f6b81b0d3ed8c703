"""Segmentation and GEO-Bench DataModules in a real `dtcd fit` on fake data in real layouts."""

from pathlib import Path

import pytest

from tests.data.batch_checker import fit
from tests.data.fake import geobench, pastis, sen1floods11, spacenet1


@pytest.mark.parametrize(
    ('name', 'writer'),
    [
        ('spacenet1', spacenet1.write),
        ('sen1floods11', sen1floods11.write),
        ('pastis', pastis.write),
    ],
)
def test_segmentation_datamodules_fit(name: str, writer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = writer(tmp_path / name)
    seen = fit(name, root, tmp_path)
    assert {batch['stage'] for batch in seen} >= {'train', 'val'}


@pytest.mark.parametrize(
    ('task', 'kind', 'extra'),
    [
        ('m-eurosat', 'multiclass', []),
        ('m-bigearthnet', 'multilabel', ['--data.init_args.bands', 'null']),
        ('m-SA-crop-type', 'segmentation', ['--data.init_args.input_size', '32']),
        ('m-pv4ger-seg', 'segmentation', ['--data.init_args.bands', 'rgb']),
    ],
)
def test_geobench_tasks_fit(task: str, kind: str, extra: list[str], tmp_path: Path) -> None:
    root = geobench.write_task(tmp_path / 'geobench', task)
    seen = fit(
        'geobench', root, tmp_path, '--data.init_args.task', task,
        '--model.init_args.task', kind, *extra,
    )  # fmt: skip
    assert {batch['stage'] for batch in seen} >= {'train', 'val'}
