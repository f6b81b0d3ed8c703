"""TorchGeo's own trainers with a dtcd backbone: the export as a ``WeightsEnum``, loaded into
the timm model TorchGeo builds by name, trained one step on TorchGeo's EuroSAT test data."""

import shutil
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from torchgeo.datamodules import EuroSATDataModule
from torchgeo.trainers import ClassificationTask

from dtcd.bands import DEO10
from dtcd.integrations.torchgeo import dtcd_weights
from dtcd.models import MultiStemSwin

EUROSAT = Path(__file__).parents[1] / 'data' / 'torchgeo' / 'eurosat'


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
    trainer = Trainer(
        max_steps=1,
        accelerator='cpu',
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        default_root_dir=tmp_path,
    )  # fmt: skip  (its scheduler reads val_loss)
    trainer.fit(task, data)
    assert trainer.global_step == 1
    after = task.model.state_dict()
    assert not torch.equal(after['head.weight'], before['head.weight'])
    assert not torch.equal(
        after['backbone.stems.ms.proj.weight'], before['backbone.stems.ms.proj.weight']
    )


def test_a_stem_the_export_lacks_is_named(demo_export: Path) -> None:
    with pytest.raises(ValueError, match=r"has no stem 'sar'; its stems: \['ms', 'rgb'\]"):
        dtcd_weights(demo_export, stem='sar')
