"""`dtcd fit --trainer.fast_dev_run true` of each probe config on TorchGeo's own test data.

``tests/data/torchgeo/`` holds files copied from TorchGeo's ``tests/data/`` (see its README):
tiny, but in the real on-disk layouts that TorchGeo's dataset classes read. Each config runs
through the real CLI (``dtcd.main.main``) with a tiny random Swin on the CPU: one training step,
one validation batch, then the test that ``dtcd fit`` runs after fitting. The fixture folder is
copied first, since TorchGeo may extract archives next to them, and the run happens in an empty
working directory that must stay empty (a smoke run writes no logs, checkpoints or configs).
"""

import math
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from dtcd.main import DTCDCLI, main
from tests.probes.conftest import TINY_SWIN_YAML
from tests.probes.test_cli import CONFIGS

DATA = Path(__file__).parents[1] / 'data' / 'torchgeo'

#: config → (dataset folder under tests/data/torchgeo, extra CLI overrides). Batch sizes fit the
#: training splits of TorchGeo's test data (2 images / tiles / pairs; 3 PASTIS patches; SpaceNet 1's
#: 4 tiles split 2 / 1 / 1; OSCD's two train regions split into one train and one val region).
CASES: dict[str, tuple[str, list[str]]] = {
    'eurosat': ('eurosat', ['--data.init_args.batch_size', '2']),
    'bigearthnet': ('bigearthnet/v1', ['--data.init_args.batch_size', '2']),
    'so2sat': ('so2sat', ['--data.init_args.batch_size', '2']),
    'spacenet1': ('spacenet/spacenet1', ['--data.init_args.batch_size', '2']),
    'pastis': ('pastis', ['--data.init_args.batch_size', '2']),
    'oscd': ('oscd', []),  # the config's 8: one training region gives one partial batch anyway
    'levircd': ('levircd/levircd', ['--data.init_args.batch_size', '2']),
}


def listing(root: Path) -> set[str]:
    """Every path under ``root``, relative to it."""
    return {str(p.relative_to(root)) for p in root.rglob('*')}


@pytest.mark.parametrize('config', sorted(CASES))
def test_fast_dev_run_on_torchgeo_test_data(
    config: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, overrides = CASES[config]
    fixture = DATA / folder
    before = listing(fixture)
    root = tmp_path / 'data'
    shutil.copytree(fixture, root)
    workdir = tmp_path / 'cwd'
    workdir.mkdir()
    monkeypatch.chdir(workdir)

    seen: dict[str, Any] = {}
    after_fit = DTCDCLI.after_fit

    def recording_after_fit(cli: DTCDCLI) -> None:
        trainer = cli.trainer
        seen['global_step'] = trainer.global_step
        seen['fit_state'] = trainer.state.status.value
        seen['fit_metrics'] = {k: float(v) for k, v in trainer.callback_metrics.items()}
        after_fit(cli)  # dtcd's own: refuses a run without a step, then tests
        seen['test_metrics'] = {k: float(v) for k, v in trainer.callback_metrics.items()}

    monkeypatch.setattr(DTCDCLI, 'after_fit', recording_after_fit)
    main(
        [
            'fit', '--config', str(CONFIGS / f'{config}.yaml'),
            '--data.init_args.root', str(root),
            '--data.init_args.num_workers', '0',
            '--trainer.fast_dev_run', 'true',
            '--trainer.accelerator', 'cpu',
            '--trainer.precision', '32-true',
            '--trainer.logger', 'false',
            '--trainer.enable_progress_bar', 'false',
            '--trainer.enable_model_summary', 'false',
            '--model.init_args.backbone', 'random:swin_t',
            '--model.init_args.backbone_kwargs', TINY_SWIN_YAML,
            *overrides,
        ]
    )  # fmt: skip

    assert seen, 'dtcd fit returned without finishing the fit'
    assert seen['global_step'] == 1, seen  # fast_dev_run: exactly one optimizer step
    assert seen['fit_state'] == 'finished', seen
    loss = seen['fit_metrics'].get('train/loss')
    assert loss is not None and math.isfinite(loss), seen['fit_metrics']
    assert any(k.startswith('val/') for k in seen['fit_metrics']), seen['fit_metrics']
    tests = {k: v for k, v in seen['test_metrics'].items() if k.startswith('test/')}
    assert tests and all(math.isfinite(v) for v in tests.values()), seen['test_metrics']
    if config == 'pastis':  # class 19 (void) is the ignore index: it has no score of its own
        logged = set(seen['fit_metrics']) | set(seen['test_metrics'])
        assert 'val/iou/sunflower' in logged and 'test/iou/sunflower' in logged, logged
        assert not any(k.endswith('/void_label') for k in logged), logged
    assert os.listdir(workdir) == []  # a smoke run writes nothing into the working directory
    assert listing(fixture) == before  # the checked-in fixture is untouched
