"""DistillationModule: gradients, checkpoints, EMA timing, and a real `dtcd fit` run."""

import copy
import functools
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.data import DataLoader

from benchmarks import pretrain_step
from dtcd.augment import MultiCrop
from dtcd.distill import DINOObjective, MCRObjective, OpticalDistillation, SelfDistillation
from dtcd.main import main
from dtcd.models import FrozenTeacher, MultiStemSwin
from dtcd.pretrain import DistillationModule, NonFiniteLossError

ROOT = Path(__file__).parents[1]


def tiny_module(**kwargs: object) -> DistillationModule:
    torch.manual_seed(0)
    student = MultiStemSwin(
        variant=None, embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4
    )
    teacher = FrozenTeacher(
        'vit_small_patch16_dinov3',
        weights=None,
        blocks=[0, 1],
        normalization=None,
        model_kwargs={'depth': 2, 'embed_dim': 48, 'num_heads': 2},
    )
    teachers = [
        SelfDistillation(MCRObjective(out_dim=16, hidden_dim=32)),
        OpticalDistillation(teacher, hidden_dim=32),
    ]
    multicrop = MultiCrop(global_size=32, local_size=16, num_local=2, blur_kernel_size=5)
    return DistillationModule(student, teachers, multicrop, **kwargs)  # type: ignore[arg-type]


class Images(torch.utils.data.Dataset):
    def __init__(self, n: int = 16) -> None:
        self.images = torch.randn(n, 10, 40, 40, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {'image': self.images[i]}


def trainer(tmp_path: Path, **kwargs: object) -> Trainer:
    options = dict(
        accelerator='cpu',
        default_root_dir=tmp_path,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    options.update(kwargs)
    return Trainer(**options)  # type: ignore[arg-type]


def test_one_step_gradients_reach_student_and_heads_only() -> None:
    module = tiny_module()
    total, terms, _ = module.compute_losses(torch.randn(4, 10, 40, 40), progress=0.0)
    total.backward()
    assert {'ms/compression', 'ms/expansion', 'optical/cls_cosine', 'loss'} <= set(terms)
    without_grad = [
        name for name, p in module.named_parameters() if p.requires_grad and p.grad is None
    ]
    assert without_grad == []
    trainable = {name for name, p in module.named_parameters() if p.requires_grad}
    assert any(n.startswith('student.stems.ms.') for n in trainable)
    assert any(n.startswith('student.stems.rgb.') for n in trainable)
    assert any('patch_heads' in n for n in trainable) and any('cls_head' in n for n in trainable)
    ema, frozen = module.teachers[0].teacher, module.teachers[1].teacher
    assert all(not p.requires_grad and p.grad is None for p in ema.parameters())
    assert 'rgb' not in ema.backbone.stems
    assert all(not p.requires_grad and p.grad is None for p in frozen.model.parameters())


def test_frozen_teacher_is_not_in_checkpoint_and_ema_is(tmp_path: Path) -> None:
    module = tiny_module()
    fit = trainer(tmp_path, max_steps=1, enable_checkpointing=True)
    fit.fit(module, DataLoader(Images(), batch_size=4))
    ckpt = torch.load(fit.checkpoint_callback.best_model_path, weights_only=False)
    keys = ckpt['state_dict'].keys()
    assert [k for k in keys if k.startswith('teachers.1.teacher.')] == [
        'teachers.1.teacher._extra_state'
    ]
    assert any(k.startswith('teachers.0.teacher.backbone.features.') for k in keys)
    frozen_params = sum(p.numel() for p in module.teachers[1].teacher.model.parameters())
    saved = sum(v.numel() for v in ckpt['state_dict'].values() if isinstance(v, torch.Tensor))
    own = sum(v.numel() for v in module.state_dict().values() if isinstance(v, torch.Tensor))
    assert saved == own and frozen_params > 0
    student = ckpt['hyper_parameters']['student']
    assert student['class_path'] == 'dtcd.models.student.MultiStemSwin'
    assert student['init_args']['embed_dim'] == 16


class RecordEMA(Callback):
    def __init__(self) -> None:
        self.snapshots: list[torch.Tensor] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:  # type: ignore[no-untyped-def]
        params = module.teachers[0].teacher.parameters()
        self.snapshots.append(torch.cat([p.detach().flatten() for p in params]).clone())


def test_ema_moves_once_per_optimizer_step_under_accumulation(tmp_path: Path) -> None:
    module = tiny_module()
    record = RecordEMA()
    before = torch.cat([p.detach().flatten() for p in module.teachers[0].teacher.parameters()])
    fit = trainer(tmp_path, max_steps=2, accumulate_grad_batches=2, callbacks=[record])
    fit.fit(module, DataLoader(Images(), batch_size=4))
    assert fit.global_step == 2 and len(record.snapshots) == 4
    changed = [
        not torch.equal(a, b)
        for a, b in zip([before, *record.snapshots], record.snapshots, strict=False)
    ]
    assert changed == [False, True, False, True]


def test_nonfinite_input_and_loss_are_reported() -> None:
    module = tiny_module()
    images = torch.randn(2, 10, 40, 40)
    images[1, 4, 3, 3] = float('nan')
    with pytest.raises(ValueError, match=r'\(sample, band\) \[\[1, 4\]\]'):
        module.compute_losses(images, 0.0)
    with torch.no_grad():
        module.teachers[1].cls_head.mlp[0].weight[0, 0] = float('nan')
    batch = {'image': torch.randn(2, 10, 40, 40)}
    with pytest.raises(NonFiniteLossError, match=r"step 0 .*'optical/cls_cosine'"):
        module.training_step(batch, 0)
    skipping = tiny_module(nonfinite='skip')
    with torch.no_grad():
        skipping.teachers[0].head.mlp[0].weight[0, 0] = float('inf')
    with pytest.warns(UserWarning, match=r"Skipping the step: .*'ms/loss'"):
        assert skipping.training_step(batch, 0) is None


@pytest.mark.slow
def test_demo_config_fits_with_the_cli(tmp_path: Path, synth_root: Path) -> None:
    main(
        [
            'fit',
            '--config', str(ROOT / 'experiments/pretrain/demo.yaml'),
            '--data.init_args.root', str(synth_root / 'pretrain'),
            '--data.init_args.batch_size', '8',
            '--data.init_args.num_workers', '0',
            '--trainer.max_epochs', '6',
            '--trainer.log_every_n_steps', '1',
            '--trainer.logger.init_args.save_dir', str(tmp_path),
            '--model.init_args.image_log_every_n_steps', '5',
        ]
    )  # fmt: skip
    run = tmp_path / 'demo_pretrain' / 'version_0'
    assert (run / 'checkpoints' / 'last.ckpt').is_file()
    events = EventAccumulator(str(run), size_guidance={'images': 0, 'scalars': 0})
    events.Reload()
    scalars = set(events.Tags()['scalars'])
    terms = ['loss', 'ms/compression', 'ms/expansion', 'optical/cls_cosine']
    terms += ['optical/patch_cosine_stage3_block2', 'optical/patch_cosine_stage4_block3']
    assert {f'train/{term}' for term in terms} <= scalars
    assert {'schedule/lr', 'schedule/weight_decay', 'schedule/ms_momentum'} <= scalars
    assert {'monitor/ms_embedding_std', 'monitor/ms_embedding_rank'} <= scalars
    pairs = ['optical_stage3_block2', 'optical_stage4_block3', 'ms_stage4']
    assert sorted(events.Tags()['images']) == sorted(f'features/{p}' for p in pairs)
    cosine = events.Scalars('features/optical_stage3_block2_cosine')
    assert cosine[0].step == 0 and cosine[-1].step == events.Scalars('train/loss')[-1].step + 1
    losses = [e.value for e in events.Scalars('train/loss')]
    assert len(losses) >= 12
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4


def test_dino_ibot_objective_trains_mask_token_and_moves_centers(tmp_path: Path) -> None:
    torch.manual_seed(0)
    student = MultiStemSwin(
        variant=None, embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4
    )
    ms = SelfDistillation(DINOObjective(
        out_dim=32, hidden_dim=32, bottleneck_dim=16, ibot_weight=1.0,
        koleo_weight=0.1, mask_probability=1.0, freeze_last_layer_fraction=0.5,
    ))  # fmt: skip
    crops = MultiCrop(global_size=64, local_size=32, num_local=2, blur_kernel_size=5)
    module = DistillationModule(student, [ms], crops)
    assert module.passes == [('ms', 'global_masked'), ('ms', 'local')]
    total, terms, _ = module.compute_losses(torch.randn(4, 10, 72, 72), progress=0.0)
    assert {'ms/dino', 'ms/ibot', 'ms/koleo'} <= set(terms) and torch.isfinite(total)
    total.backward()
    assert ms.mask_token.grad is not None and ms.mask_token.grad.abs().sum() > 0
    fit = trainer(tmp_path, max_steps=2)
    fit.fit(module, DataLoader(Images(), batch_size=4))
    assert not torch.equal(
        ms.objective.criterion.center, torch.zeros_like(ms.objective.criterion.center)
    )
    patch = ms.objective.patch_criterion
    assert not torch.equal(patch.center, torch.zeros_like(patch.center))


class StopAfterFirstEpoch(Callback):
    """An interruption: the run is planned for more epochs but stops after the first."""

    def on_train_epoch_end(self, trainer, module) -> None:  # type: ignore[no-untyped-def]
        trainer.should_stop = True


def test_resume_at_epoch_boundary_matches_uninterrupted_run(tmp_path: Path) -> None:
    def run(root: Path, stop: bool = False, ckpt_path: str | None = None) -> DistillationModule:
        seed_everything(0)
        module = tiny_module()
        callbacks = [ModelCheckpoint(dirpath=root, save_last=True)]
        callbacks += [StopAfterFirstEpoch()] if stop else []
        fit = trainer(root, max_epochs=2, callbacks=callbacks, deterministic=True)
        fit.fit(module, DataLoader(Images(8), batch_size=4, shuffle=True), ckpt_path=ckpt_path)
        return module

    straight = run(tmp_path / 'straight')
    interrupted = run(tmp_path / 'resumed', stop=True)
    assert interrupted.global_step == 2
    resumed = run(tmp_path / 'resumed', ckpt_path=str(tmp_path / 'resumed' / 'last.ckpt'))
    assert resumed.global_step == straight.global_step == 4
    for (name, a), b in zip(
        straight.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        if isinstance(a, torch.Tensor):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=0, msg=name)


@pytest.mark.slow
def test_compiled_networks_give_the_eager_losses(monkeypatch: pytest.MonkeyPatch) -> None:
    """``compile: true`` compiles the student's and both teachers' forwards, same numbers.

    TorchDynamo captures dtcd's forwards and AOTAutograd traces them (``aot_eager``); inductor's
    C++ code generation on the CPU, a minute of compiler time here, is torch's to test.
    """
    monkeypatch.setattr(torch, 'compile', functools.partial(torch.compile, backend='aot_eager'))
    preset = replace(pretrain_step.PRESETS['cpu-small'], **pretrain_step.TINY)
    torch.manual_seed(0)
    eager = pretrain_step.build_module(preset).eval()
    compiled = copy.deepcopy(eager)
    compiled.hparams['compile'] = True
    compiled.configure_model()
    compiled.configure_model()  # Lightning calls it again on every fit / test: compiles once
    optical = compiled.teachers[1].teacher.model
    assert hasattr(compiled.student.encode, '_torchdynamo_orig_callable')
    assert hasattr(optical.forward_intermediates, '_torchdynamo_orig_callable')
    views = eager.multicrop(torch.randn(2, 10, 40, 40))
    for module in (eager, compiled):
        monkeypatch.setattr(module.multicrop, 'forward', lambda images: views)
    with torch.no_grad():
        _, ours, _ = compiled.compute_losses(torch.zeros(1), progress=0.0, check_input=False)
        _, theirs, _ = eager.compute_losses(torch.zeros(1), progress=0.0, check_input=False)
    for name, value in theirs.items():
        assert ours[name].item() == pytest.approx(value.item(), rel=1e-4, abs=1e-6), name
