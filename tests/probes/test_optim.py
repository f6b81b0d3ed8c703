"""Probe optimisation: frozen encoders stay out, layer decay scales lr, warm-up + cosine by step."""

import pytest
import torch
from lightning.pytorch import Trainer

from dtcd.bands import EUROSAT13
from dtcd.probes import ChangeDetectionProbe, ClassificationProbe, ProbeData, SegmentationProbe
from tests.probes.conftest import TINY_SWIN

DATA = ProbeData('multiclass', EUROSAT13, tuple('abc'))


def attach(probe: ClassificationProbe | SegmentationProbe, steps: int = 100) -> dict:
    probe.trainer = Trainer(max_epochs=-1, max_steps=steps, logger=False)
    return probe.configure_optimizers()


def test_frozen_probe_optimises_the_head_only_and_stays_in_eval() -> None:
    probe = ClassificationProbe('random:swin_t', TINY_SWIN, lr=1e-3, warmup_fraction=0.1)
    probe.build(DATA)
    optim = attach(probe)
    params = {id(p) for g in optim['optimizer'].param_groups for p in g['params']}
    assert params == {id(probe.head.weight), id(probe.head.bias)}
    decays = sorted(g['weight_decay'] for g in optim['optimizer'].param_groups)
    assert decays == [0.0, 0.01]  # no decay on the bias
    probe.train()
    assert not probe.backbone.training and probe.head.training
    scheduler = optim['lr_scheduler']['scheduler']
    lrs = []
    for _ in range(100):
        lrs.append(optim['optimizer'].param_groups[0]['lr'])
        optim['optimizer'].step()
        scheduler.step()
    assert optim['lr_scheduler']['interval'] == 'step'
    assert lrs[0] == pytest.approx(1e-4)  # first of 10 warm-up steps already learns
    assert lrs[9] == pytest.approx(1e-3)  # peak at the end of warm-up
    assert lrs[-1] == pytest.approx(1e-6, rel=0.1) and lrs == sorted(lrs[:10]) + lrs[10:]


def test_fine_tuned_probe_decays_lr_by_layer() -> None:
    probe = SegmentationProbe(
        'random:swin_t', TINY_SWIN, freeze_backbone=False, layer_decay=0.5, decoder_channels=8
    )
    probe.build(ProbeData('segmentation', EUROSAT13, tuple('abc')))
    optim = attach(probe)
    lr_of = {id(p): g['initial_lr'] for g in optim['optimizer'].param_groups for p in g['params']}
    top = 1 + 4  # stems are layer 0, four blocks, then the final norm
    assert lr_of[id(probe.backbone.model.stems.ms.proj.weight)] == pytest.approx(1e-4 * 0.5**top)
    assert lr_of[id(probe.backbone.model.norm.weight)] == pytest.approx(1e-4)
    assert lr_of[id(probe.decoder.classifier.weight)] == pytest.approx(1e-4)
    assert len(lr_of) == sum(1 for p in probe.parameters() if p.requires_grad)
    before = probe.backbone.model.stems.ms.proj.weight.clone()
    probe.train()
    probe.compute_loss(
        probe(torch.randn(2, 13, 32, 32)), torch.randint(0, 3, (2, 32, 32))
    ).backward()
    optim['optimizer'].step()
    assert not torch.equal(before, probe.backbone.model.stems.ms.proj.weight)


@pytest.mark.parametrize('frozen', [False, True], ids=['fine-tuned', 'frozen'])
def test_change_probe_lr_and_weight_decay_of_every_parameter(frozen: bool) -> None:
    probe = ChangeDetectionProbe(
        'random:swin_t',
        TINY_SWIN,
        freeze_backbone=frozen,
        layer_decay=0.65,
        weight_decay=0.05,
        decoder_channels=8,
    )
    probe.build(ProbeData('change', EUROSAT13, ('no change', 'change')))
    groups = attach(probe)['optimizer'].param_groups
    got = {id(p): (g['initial_lr'], g['weight_decay']) for g in groups for p in g['params']}
    scales = {} if frozen else probe.backbone.lr_scales(0.65)
    expected = {}
    for name, param in probe.named_parameters():
        if frozen and name.startswith('backbone.'):
            continue
        scale = scales.get(name.removeprefix('backbone.'), 1.0)
        decays = param.ndim > 1 and not name.endswith('.bias')
        expected[id(param)] = (1e-4 * scale, 0.05 * decays)
    assert got == expected
    assert len(groups) == len(set(got.values()))  # one group per (lr, weight decay)
    if not frozen:  # 2-D: decays, as every matrix does (no_weight_decay() is not applied)
        table = probe.backbone.model.features[0][0].attn.relative_position_bias_table
        assert got[id(table)][1] == 0.05
