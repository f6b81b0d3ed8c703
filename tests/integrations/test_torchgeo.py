"""TorchGeo's own trainers with a dtcd backbone: the export as a ``WeightsEnum``, loaded into
the timm model TorchGeo builds by name, trained one step on TorchGeo's EuroSAT test data."""

import shutil
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
from lightning.pytorch import LightningModule, Trainer
from torchgeo.datamodules import EuroSATDataModule
from torchgeo.trainers import ClassificationTask

from dtcd.bands import DEO10, RGB
from dtcd.integrations.torchgeo import dtcd_weights
from dtcd.models import MultiStemSwin

EUROSAT = Path(__file__).parents[1] / 'data' / 'torchgeo' / 'eurosat'


def train_one_step(task: LightningModule, tmp_path: Path, *data: Any) -> int:
    """Fit ``task`` for one step, one validation batch (TorchGeo's schedulers read val_loss);
    the optimizer steps taken."""
    trainer = Trainer(max_steps=1, accelerator='cpu', logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, limit_val_batches=1,
                      num_sanity_val_steps=0, default_root_dir=tmp_path)  # fmt: skip
    trainer.fit(task, *data)
    return trainer.global_step


def test_classification_task_trains_a_step_from_a_dtcd_export(
    demo_export: Path, tmp_path: Path
) -> None:
    weights = dtcd_weights(demo_export, tag='demo', dataset='SynthEO')
    assert weights.meta['model'] == 'dtcd_swin.demo' and weights.meta['bands'] == list(DEO10)
    assert {'dataset', 'in_chans', 'model', 'publication', 'repo', 'bands', 'ssl_method',
            'license'} <= weights.meta.keys()  # fmt: skip
    task = ClassificationTask(model=weights.meta['model'], weights=weights,
                              in_channels=weights.meta['in_chans'], num_classes=10)  # fmt: skip
    exported = MultiStemSwin.from_pretrained(demo_export).state_dict()
    loaded = task.model.backbone.state_dict()
    assert loaded.keys() == exported.keys()
    assert all(torch.equal(loaded[k], exported[k]) for k in exported)  # loaded, not left random

    root = tmp_path / 'eurosat'
    shutil.copytree(EUROSAT, root)
    data = EuroSATDataModule(root=str(root), bands=DEO10, batch_size=2)
    before = {k: v.clone() for k, v in task.model.state_dict().items()}
    assert train_one_step(task, tmp_path, data) == 1
    after = task.model.state_dict()
    assert not torch.equal(after['head.weight'], before['head.weight'])
    assert not torch.equal(
        after['backbone.stems.ms.proj.weight'], before['backbone.stems.ms.proj.weight']
    )


def test_a_stem_the_export_lacks_is_named(demo_export: Path) -> None:
    with pytest.raises(ValueError, match=r"has no stem 'sar'; its stems: \['ms', 'rgb'\]"):
        dtcd_weights(demo_export, stem='sar')


def test_an_export_of_a_real_run_carries_its_normalisation_into_torchgeo(
    run_export: Path,
) -> None:
    from dtcd.data.datamodules.pretrain import pretrain_stats
    from dtcd.models.checkpoints import export_info

    export = run_export
    info = export_info(export)
    mean, std = pretrain_stats().tensors(DEO10)
    assert info['normalization'] == {
        band: [float(m), float(s)] for band, m, s in zip(DEO10, mean, std, strict=True)
    }
    assert info['license'] == 'CC-BY-4.0' and info['patch_size'] == 4
    assert info['recipe']['teachers'] == [
        'dtcd.distill.self_distillation.SelfDistillation',
        'dtcd.distill.optical.OpticalDistillation',
    ]
    weights = dtcd_weights(export, tag='run')
    assert weights.meta['license'] == 'CC-BY-4.0'
    images = torch.rand(2, len(DEO10), 8, 8) * 3000
    expected = (images - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
    torch.testing.assert_close(weights.transforms(images), expected)
    # timm's data config gets the same statistics, in the chosen stem's band order.
    rgb = timm.create_model('dtcd_swin.run', bands=['B04', 'B03', 'B02'])
    assert rgb.pretrained_cfg['mean'] == tuple(info['normalization'][b][0] for b in RGB)


def test_semantic_segmentation_task_trains_a_step_on_a_dtcd_encoder(
    demo_export: Path, tmp_path: Path
) -> None:
    from torch.utils.data import DataLoader
    from torchgeo.trainers import SemanticSegmentationTask

    weights = dtcd_weights(demo_export, tag='demo-seg', task='segmentation')
    assert weights.meta['model'] == 'tu-dtcd_swin.demo-seg'
    task = SemanticSegmentationTask(model='upernet', backbone=weights.meta['model'],
                                    weights=weights, in_channels=10, num_classes=3)  # fmt: skip
    exported = MultiStemSwin.from_pretrained(demo_export).state_dict()
    encoder = task.model.encoder.model.model.backbone.state_dict()
    assert all(torch.equal(encoder[k], exported[k]) for k in exported)
    generator = torch.Generator().manual_seed(0)
    batches = [{'image': torch.randn(2, 10, 64, 64, generator=generator),
                'mask': torch.randint(0, 3, (2, 64, 64), generator=generator)}]  # fmt: skip
    before = task.model.encoder.model.model.backbone.stems.ms.proj.weight.clone()
    loader = DataLoader(batches, batch_size=None)
    assert train_one_step(task, tmp_path, loader, loader) == 1
    assert not torch.equal(task.model.encoder.model.model.backbone.stems.ms.proj.weight, before)
