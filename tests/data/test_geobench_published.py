"""GEO-Bench tasks written by geo-bench's own writer (tests/data/geobench, see
tests/data/geobench_writer/README.md): dtcd reads what geo-bench's own reader reads, and every
GEO-Bench probe config fits on them."""

import json
from pathlib import Path

import pytest

from dtcd.data.geobench import GEOBENCH_TASKS, GeoBench, geobench_band_to_s2
from dtcd.main import main
from tests.probes.test_cli import CONFIGS, random_tiny

ROOT = Path(__file__).parent / 'geobench'
SPLITS = {'train': 'train', 'val': 'valid', 'test': 'test'}


def expected(task: str) -> dict[str, list[dict]]:
    """What geo-bench's reader returned for each sample, per split (written by the generator)."""
    folder = ROOT / f'{GEOBENCH_TASKS[task].benchmark}_v1.0' / task
    return json.loads((folder / 'expected.json').read_text())


@pytest.mark.parametrize('task', sorted(GEOBENCH_TASKS))
def test_dtcd_reads_what_geobench_reads(task: str) -> None:
    for split, key in SPLITS.items():
        dataset = GeoBench(ROOT, task, split)
        reference = expected(task)[key]
        assert [f.stem for f in dataset.files] == [s['name'] for s in reference]
        for index, sample in enumerate(reference):
            ours = dataset[index]
            first = ours['image'][:, 0, 0].tolist()
            by_name = dict(zip(dataset.source_bands.values(), first, strict=True))
            for name, value in by_name.items():
                assert value == pytest.approx(sample['pixels'][name], rel=1e-6), (task, name)
            s2 = {geobench_band_to_s2(n) for n in sample['pixels']} - {None}
            assert set(dataset.bands) == s2  # every Sentinel-2 / RGB band, nothing else
            label = ours['mask'] if 'mask' in ours else ours['label']
            assert label.long().tolist() == sample['label'], (task, split, index)


def test_dated_bands_and_labels_are_matched_by_their_undated_name() -> None:
    cashew = GeoBench(ROOT, 'm-cashew-plantation', 'train')  # the longer name is an alias
    assert cashew.task == 'm-cashew-plant' and cashew.directory.name == 'm-cashew-plant'
    assert cashew.bands == ('B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A',
                            'B09', 'B11', 'B12')  # fmt: skip
    cattle = GeoBench(ROOT, 'm-nz-cattle', 'test')[0]
    assert cattle['image'].shape == (3, 16, 16) and cattle['mask'].shape == (16, 16)
    assert set(cattle['mask'].unique().tolist()) <= {0, 1}


GEOBENCH_CONFIGS = sorted(
    p.stem for p in CONFIGS.glob('*.yaml') if 'GeoBenchDataModule' in p.read_text()
)


@pytest.mark.slow
@pytest.mark.parametrize('config', GEOBENCH_CONFIGS)
def test_probe_config_fits_on_tasks_written_by_geobench(
    config: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    main(
        [
            'fit', '--config', str(CONFIGS / f'{config}.yaml'),
            '--data.init_args.root', str(ROOT),
            '--data.init_args.input_size', '32',
            '--data.init_args.batch_size', '2',
            '--trainer.fast_dev_run', 'true',
            '--trainer.accelerator', 'cpu',
            '--trainer.precision', '32-true',
            '--trainer.enable_progress_bar', 'false',
            *random_tiny(),
        ]
    )  # fmt: skip
    assert list(tmp_path.iterdir()) == []  # a smoke run writes nothing; fit raised if no step


def test_every_geobench_task_has_a_config() -> None:
    tasks = set()
    for config in GEOBENCH_CONFIGS:
        text = (CONFIGS / f'{config}.yaml').read_text()
        tasks |= {t for t in GEOBENCH_TASKS if f'task: {t}\n' in text}
    assert tasks == set(GEOBENCH_TASKS)
