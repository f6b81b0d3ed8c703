"""`dtcd fit` with each probe on SynthEO beats the trivial baseline on held-out data.

Each run goes through the real LightningCLI (``dtcd.main.main``) with a ``synth_*.yaml`` config,
trains, then tests its best-validation checkpoint and writes ``test_metrics.json``. Tiny SynthEO
has 40 EuroSAT test images (4 per class), 5 segmentation test tiles and one OSCD test region, so
the margins asserted are wide and the baselines are computed on the same test data.
"""

import json
from pathlib import Path

import pytest
import torch

from dtcd.bands import RGB, band_indices
from dtcd.data.datamodules import OSCDDataModule, SynthEOSegmentationDataModule
from dtcd.main import main
from dtcd.probes import SegmentationProbe
from tests.probes.conftest import TINY_SWIN_YAML

CONFIGS = Path(__file__).parents[2] / 'experiments' / 'probes'


def fit(config: str, root: Path, out: Path, *overrides: str, verb: str = 'fit') -> dict[str, float]:
    main(
        [
            verb, '--config', str(CONFIGS / f'{config}.yaml'),
            '--data.init_args.root', str(root),
            '--trainer.accelerator', 'cpu',
            '--trainer.logger', 'false',
            '--trainer.default_root_dir', str(out),
            '--trainer.enable_progress_bar', 'false',
            '--trainer.enable_model_summary', 'false',
            '--trainer.num_sanity_val_steps', '0',
            *overrides,
        ]
    )  # fmt: skip
    return json.loads((out / 'test_metrics.json').read_text())


def random_tiny(*extra: str) -> list[str]:
    return [
        '--model.init_args.backbone', 'random:swin_t',
        '--model.init_args.backbone_kwargs', TINY_SWIN_YAML,
        *extra,
    ]  # fmt: skip


@pytest.mark.slow
def test_classification_beats_majority(synth_root: Path, tmp_path: Path) -> None:
    metrics = fit(
        'synth_classification', synth_root / 'eurosat', tmp_path, '--trainer.max_epochs', '4',
        *random_tiny(),
    )  # fmt: skip
    majority = 0.1  # SynthEO's EuroSAT test split is balanced: 4 images of each of 10 classes
    assert metrics['test/acc'] > majority + 0.2, metrics
    assert metrics['test/knn_acc'] > majority + 0.2, metrics
    best = next((tmp_path / 'checkpoints').glob('best-*.ckpt'))
    again = fit(
        'synth_classification', synth_root / 'eurosat', tmp_path, '--ckpt_path', str(best),
        *random_tiny(), verb='test',
    )  # fmt: skip
    assert again == pytest.approx(metrics)  # `dtcd test` on the best checkpoint: same numbers


@pytest.mark.slow
def test_classification_with_a_pretrained_checkpoint(
    synth_root: Path, tmp_path: Path, pretrained_checkpoint: Path
) -> None:
    metrics = fit(
        'synth_classification', synth_root / 'eurosat', tmp_path, '--trainer.max_epochs', '4',
        '--model.init_args.backbone', str(pretrained_checkpoint),
    )  # fmt: skip
    assert metrics['test/acc'] > 0.1 + 0.2, metrics


def majority_miou(root: Path) -> float:
    """mIoU of predicting the training split's most frequent class everywhere on test."""
    data = SynthEOSegmentationDataModule(root=str(root))
    data.setup('fit')
    counts = sum(torch.bincount(s['mask'].flatten(), minlength=7) for s in data.train_dataset)
    probe = SegmentationProbe('random:swin_t', decoder_channels=8)
    from dtcd.probes import ProbeData

    probe.build(ProbeData.of(data))
    for sample in data.test_dataset:
        mask = sample['mask'][None]
        probe.test_metrics.update(torch.full_like(mask, int(counts.argmax())), mask)
    return probe.test_metrics.compute()['test/miou'].item()


def backbone_args(kind: str, request: pytest.FixtureRequest, *extra: str) -> list[str]:
    """A random tiny Swin, or the briefly pretrained dtcd checkpoint (same architecture)."""
    if kind == 'random':
        return random_tiny(*extra)
    checkpoint = request.getfixturevalue('pretrained_checkpoint')
    return ['--model.init_args.backbone', str(checkpoint), *extra]


@pytest.mark.slow
@pytest.mark.parametrize('kind', ['random', 'pretrained'])
def test_segmentation_beats_majority(
    kind: str, synth_root: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    root = synth_root / 'segmentation'
    metrics = fit(
        'synth_segmentation', root, tmp_path, '--trainer.max_epochs', '8',
        '--model.init_args.decoder_channels', '32', *backbone_args(kind, request),
    )  # fmt: skip
    baseline = majority_miou(root)
    assert metrics['test/miou'] > baseline + 0.05, (metrics, baseline)


@pytest.mark.slow
@pytest.mark.parametrize('kind', ['random', 'pretrained'])
def test_change_beats_no_change_and_all_change(
    kind: str, synth_root: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    root = synth_root / 'oscd'
    metrics = fit(
        'synth_change', root, tmp_path, '--trainer.max_epochs', '40',
        '--trainer.check_val_every_n_epoch', '5', '--data.init_args.input_size', '96',
        '--model.init_args.decoder_channels', '32',
        *backbone_args(kind, request, '--model.init_args.lr', '2e-3'),
    )  # fmt: skip
    data = OSCDDataModule(root=str(root), input_size=96)
    data.setup('test')
    changed = torch.cat([s['mask'].flatten() for s in data.test_dataset]).float().mean().item()
    all_change_f1 = 2 * changed / (1 + changed)  # precision = changed share, recall 1
    assert metrics['test/f1'] > all_change_f1 + 0.1, (metrics, all_change_f1)  # no change: F1 0


@pytest.mark.slow
def test_timm_vit_baseline_segments_ms_data_from_rgb(synth_root: Path, tmp_path: Path) -> None:
    metrics = fit(
        'synth_segmentation', synth_root / 'segmentation', tmp_path, '--trainer.max_epochs', '2',
        '--model.init_args.decoder_channels', '32',
        '--model.init_args.backbone', 'timm:vit_small_patch16_dinov3',
        '--model.init_args.backbone_kwargs', '{depth: 4, embed_dim: 96, num_heads: 3}',
    )  # fmt: skip
    assert 0 <= metrics['test/miou'] <= 1
    best = next((tmp_path / 'checkpoints').glob('best-*.ckpt'))
    probe = SegmentationProbe.load_from_checkpoint(best)  # rebuilt from the checkpoint alone
    assert probe.backbone.bands == RGB and probe.neck is not None
    bands = probe.data.bands
    assert len(bands) == 13 and probe.band_index.tolist() == band_indices(bands, RGB)
