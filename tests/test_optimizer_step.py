"""The optimizer step against numbers computed by hand: clip, schedules, lr scaling, decay groups.

Expected values are written out from the formulas of PAPER.md §2.9 (linear warm-up then cosine
for the lr, cosine for weight decay and EMA momentum, lr ∝ global batch), not taken from dtcd's
own schedule functions, so a wrong schedule in dtcd cannot agree with its own test.
"""

import math
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import nn
from torch.utils.data import DataLoader

from dtcd.augment import MultiCrop
from dtcd.distill import MCRObjective, SelfDistillation
from dtcd.models import MultiStemSwin
from dtcd.pretrain import DistillationModule
from dtcd.pretrain.optim import adamw, apply_schedule, clip_per_parameter
from tests.test_pretrain import Images, trainer


def norm(t: torch.Tensor) -> float:
    return float(t.double().norm())


def test_clip_caps_each_gradient_norm_and_leaves_smaller_ones_untouched() -> None:
    torch.manual_seed(0)
    params = [nn.Parameter(torch.zeros(shape)) for shape in [(4, 5), (7,), (3, 3), (2,)]]
    grads = [torch.randn(p.shape) for p in params[:3]]
    for p, g, target in zip(params, grads, [10.0, 3.0, 0.5], strict=False):
        p.grad = g * (target / norm(g))  # norms 10, 3 and 0.5; the last has no gradient
    small = params[2].grad.clone()
    directions = [p.grad / norm(p.grad) for p in params[:2]]
    clip_per_parameter(params, clip=2.0)
    assert [norm(p.grad) for p in params[:3]] == pytest.approx([2.0, 2.0, 0.5], rel=1e-5)
    for p, direction in zip(params[:2], directions, strict=True):
        torch.testing.assert_close(p.grad / norm(p.grad), direction)  # scaled, not bent
    assert torch.equal(params[2].grad, small)  # under the threshold: bit for bit the same
    assert params[3].grad is None
    before = [p.grad.clone() for p in params[:3]]
    clip_per_parameter(params, clip=0.0)  # 0 disables the clip
    assert all(torch.equal(p.grad, b) for p, b in zip(params[:3], before, strict=True))


def test_weight_decay_acts_on_weights_only() -> None:
    """One AdamW step with zero gradients: decayed weights shrink by exactly lr · wd."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    optimizer = adamw(model, lr=1.0, weight_decay=0.1, betas=(0.9, 0.999))
    decayed = {id(p) for g in optimizer.param_groups if g['apply_wd'] for p in g['params']}
    assert decayed == {id(model[0].weight)}  # not the bias, not the norm's weight or bias
    apply_schedule(optimizer, lr=0.1, weight_decay=0.5)
    assert sorted(g['weight_decay'] for g in optimizer.param_groups) == [0.0, 0.5]
    before = [p.detach().clone() for p in model.parameters()]
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    after = list(model.parameters())
    torch.testing.assert_close(after[0], before[0] * (1 - 0.1 * 0.5))
    for p, b in zip(after[1:], before[1:], strict=True):
        assert torch.equal(p, b)


class RecordStep(Callback):
    """After each optimizer step: the lr and weight decay it used and the EMA momentum it applied.

    The teacher is read before every micro-batch; it moves only at optimizer steps, so the last
    reading before a step is the teacher that step started from.

    The momentum is measured, not read: ``teacher_after = m · teacher_before + (1 − m) · student``
    solved for ``m`` by least squares over every parameter the EMA copy shares with the student.
    """

    def __init__(self) -> None:
        self.lr: list[float] = []
        self.decay: list[float] = []
        self.no_decay: list[float] = []
        self.momentum: list[float] = []

    def _shared(self, module: LightningModule) -> tuple[torch.Tensor, torch.Tensor]:
        teacher = dict(module.teachers[0].teacher.backbone.named_parameters())
        student = dict(module.student.named_parameters())
        names = sorted(set(teacher) & set(student))
        assert any(n.startswith('stems.ms.') for n in names) and len(names) > 10

        def flat(params: dict[str, nn.Parameter]) -> torch.Tensor:
            return torch.cat([params[n].detach().flatten().double() for n in names])

        return flat(teacher), flat(student)

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:  # type: ignore[no-untyped-def]
        self._teacher_before = self._shared(module)[0].clone()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:  # type: ignore[no-untyped-def]
        if trainer.global_step == len(self.lr):  # an accumulating micro-batch: no step yet
            return
        groups = trainer.optimizers[0].param_groups
        self.lr.append(groups[0]['lr'])
        self.decay += [g['weight_decay'] for g in groups if g['apply_wd']]
        self.no_decay += [g['weight_decay'] for g in groups if not g['apply_wd']]
        after, student = self._shared(module)
        gap_before, gap_after = self._teacher_before - student, after - student
        self.momentum.append(float(gap_after @ gap_before / (gap_before @ gap_before)))


def fit_recorded(
    tmp_path: Path, steps: int, batch: int, accumulate: int = 1, **module_kwargs: float
) -> RecordStep:
    torch.manual_seed(0)
    student = MultiStemSwin(
        variant=None, embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4
    )
    teacher = SelfDistillation(MCRObjective(out_dim=16, hidden_dim=32), momentum=(0.6, 0.95))
    multicrop = MultiCrop(global_size=32, local_size=16, num_local=1, blur_kernel_size=5)
    module = DistillationModule(student, [teacher], multicrop, **module_kwargs)  # type: ignore[arg-type]
    record = RecordStep()
    fit: Trainer = trainer(
        tmp_path, max_steps=steps, accumulate_grad_batches=accumulate, callbacks=[record]
    )
    fit.fit(module, DataLoader(Images(batch * accumulate * steps), batch_size=batch))
    assert fit.global_step == steps
    return record


def test_lr_weight_decay_and_momentum_at_warmup_start_end_and_last_step(tmp_path: Path) -> None:
    # 8 steps, warm-up 0.25 · 8 = 2 steps; peak lr 1e-3 (batch 4 = the reference batch).
    record = fit_recorded(
        tmp_path, steps=8, batch=4, lr=1e-3, lr_reference_batch=4, min_lr=1e-5,
        warmup_fraction=0.25, weight_decay=(0.04, 0.4),
    )  # fmt: skip
    # lr: 0 at step 0, the peak at step 2 (end of warm-up), and at the last step (7) the cosine
    # from peak to min_lr at progress (7 - 2) / (8 - 2): (1 + cos(150°)) / 2 = 0.0669873.
    assert record.lr[0] == 0.0
    assert record.lr[1] == pytest.approx(0.5e-3, rel=1e-6)
    assert record.lr[2] == pytest.approx(1e-3, rel=1e-6)
    assert record.lr[7] == pytest.approx(1e-5 + (1e-3 - 1e-5) * 0.0669873, rel=1e-5)
    # Weight decay: cosine from 0.04 to 0.4 over step / 8; (1 + cos(45°)) / 2 = 0.8535534,
    # (1 + cos(157.5°)) / 2 = 0.0380602. Norms and biases: none, at every step.
    assert record.decay[0] == pytest.approx(0.04, rel=1e-6)
    assert record.decay[2] == pytest.approx(0.4 - 0.36 * 0.8535534, rel=1e-6)
    assert record.decay[7] == pytest.approx(0.4 - 0.36 * 0.0380602, rel=1e-6)
    assert record.no_decay == [0.0] * 8
    # EMA momentum of step s, cosine from 0.6 to 0.95 over s / 8, measured from the weights.
    # Step 0 (lr 0) leaves the student equal to its EMA copy, so any momentum fits it; step 1:
    # (1 + cos(22.5°)) / 2 = 0.9619398.
    assert math.isnan(record.momentum[0])
    assert record.momentum[1] == pytest.approx(0.95 - 0.35 * 0.9619398, abs=1e-4)
    assert record.momentum[2] == pytest.approx(0.95 - 0.35 * 0.8535534, abs=1e-4)
    assert record.momentum[7] == pytest.approx(0.95 - 0.35 * 0.0380602, abs=1e-4)


@pytest.mark.parametrize(('batch', 'accumulate'), [(4, 1), (8, 1), (4, 2)])
def test_lr_scales_with_the_global_batch(tmp_path: Path, batch: int, accumulate: int) -> None:
    # Warm-up of round(0.25 · 4) = 1 step: step 1 runs at the peak, lr · batch · accumulate / 16.
    # (World size enters the same product; tests/reliability/test_ddp.py checks two ranks.)
    record = fit_recorded(
        tmp_path, steps=4, batch=batch, accumulate=accumulate, lr=2e-3, lr_reference_batch=16,
        warmup_fraction=0.25,
    )  # fmt: skip
    assert record.lr[1] == pytest.approx(2e-3 * batch * accumulate / 16, rel=1e-6)
    assert math.isclose(record.lr[0], 0.0)
