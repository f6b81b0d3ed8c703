"""DistillationModule: dual-teacher (or N-teacher) contrastive distillation pretraining.

One training step (DESIGN.md): multi-crop on the device → the student once per (stem, view
group) that some teacher needs → each teacher's targets (no grad) and loss → weighted sum →
AdamW step with per-step schedules and per-parameter clipping (:mod:`.optim`) → after the step,
each teacher's ``update`` (EMA, centering) exactly once, also under gradient accumulation.
Refusals live in :mod:`.guards`, monitors and pictures in :mod:`.callbacks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from lightning.pytorch import Callback, LightningModule
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor
from torch.optim import Optimizer

from dtcd import rng
from dtcd.augment import MultiCrop, MultiCropViews
from dtcd.bands import select_bands
from dtcd.distill.base import StudentOutputs, StudentPass, Teacher
from dtcd.models import Student
from dtcd.pretrain.callbacks import CollapseMonitors, FeaturePictures, log_due
from dtcd.pretrain.guards import (
    NonFiniteLossError,
    check_finite_input,
    check_finite_weights,
    check_same_student,
    nonfinite_loss_message,
)
from dtcd.pretrain.optim import StepSchedule, adamw, apply_schedule, clip_per_parameter
from dtcd.train_mode import enter_train_mode


class DistillationModule(LightningModule):
    """Pretrain a student (:class:`MultiStemSwin`, :class:`ViTStudent`) from a list of teachers.

    Args:
        student: The student network.
        teachers: Teachers, each with its heads, loss and weight (DEO: a
            :class:`~dtcd.distill.SelfDistillation` and an
            :class:`~dtcd.distill.OpticalDistillation`).
        multicrop: Device-side multi-crop; the batch's ``image`` channels must be its ``bands``.
        lr: Base learning rate for a global batch of ``lr_reference_batch`` images.
        lr_reference_batch: The lr is scaled by ``global batch / lr_reference_batch``.
        min_lr: Learning rate at the end of the cosine.
        warmup_fraction: Share of optimizer steps with linear lr warm-up.
        weight_decay: Weight decay at the start and end of training (cosine per step); norms and
            biases get none.
        clip_grad: Per-parameter gradient-norm clip (DINO style); 0 disables it.
        betas: AdamW betas.
        nonfinite: On a NaN / Inf loss, ``'raise'`` (stop, naming the term) or ``'skip'`` the step.
        image_log_every_n_steps: Log pictures of the input with teacher and student patch
            features in one PCA basis and their per-patch cosine this often, and before the
            first and after the last step (:class:`~dtcd.pretrain.callbacks.FeaturePictures`;
            0 disables).
        finite_check_every_n_steps: How often training checks input pixels and the loss for NaN /
            Inf; each check makes the host wait for the device (a GPU stall). ``1`` checks every
            step and names the first bad one; ``n > 1`` every ``n`` steps; ``0`` on the first
            step and on the steps Lightning writes logs. ``nonfinite: skip`` checks every step.
            Non-finite weights are never checkpointed either way.
        compile: ``torch.compile`` the student's and the teachers' forwards (static shapes: one
            graph per crop size and stem). Off by default: on 2 CPU cores compiling takes
            minutes, more than a short run gains (benchmarks/RESULTS.md).
    """

    def __init__(
        self,
        student: Student,
        teachers: Sequence[Teacher],
        multicrop: MultiCrop | None = None,
        lr: float = 5e-4,
        lr_reference_batch: int = 256,
        min_lr: float = 1e-6,
        warmup_fraction: float = 0.1,
        weight_decay: tuple[float, float] = (0.04, 0.4),
        clip_grad: float = 3.0,
        betas: tuple[float, float] = (0.9, 0.999),
        nonfinite: Literal['raise', 'skip'] = 'raise',
        image_log_every_n_steps: int = 0,
        finite_check_every_n_steps: int = 1,
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=['student', 'teachers', 'multicrop'])
        # The student's architecture, so `MultiStemSwin.from_pretrained(ckpt)` can rebuild it; in
        # LightningCLI's class_path form, which `dtcd fit --ckpt_path` parses back on resume.
        kind = type(student)
        self.hparams['student'] = {
            'class_path': f'{kind.__module__}.{kind.__qualname__}',
            'init_args': student.config(),
        }
        names = [t.name for t in teachers]
        if not teachers or len(set(names)) != len(names):
            raise ValueError(f'Give at least one teacher, each with its own name: {names}.')
        self.student, self.teachers = student, torch.nn.ModuleList(teachers)
        for teacher in teachers:
            teacher.bind(student)
        self.multicrop = multicrop or MultiCrop()
        self.passes = sorted(set().union(*(t.required_passes() for t in teachers)))
        maskers = [t for t in teachers if any(g == 'global_masked' for _, g in t.required_passes())]
        if len(maskers) > 1:
            raise ValueError('Only one teacher may mask the global views (they share one pass).')
        self.masker = maskers[0] if maskers else None
        self._restored_rng_ranks = 0  # ranks whose generator states the resumed checkpoint held
        self._compiled = False

    def configure_model(self) -> None:
        """With ``compile``, compile the networks' forwards in place, once (Lightning calls this
        before every fit, validate or test)."""
        if self.hparams.get('compile') and not self._compiled:
            self.student.encode = torch.compile(self.student.encode, dynamic=False)
            for teacher in self.teachers:
                teacher.compile_networks()
            self._compiled = True

    def schedule(self) -> StepSchedule:
        """The run's per-step schedules; lr scaled by the global batch (the DINO rule)."""
        hp = self.hparams
        return StepSchedule(
            self.peak_lr(), hp['min_lr'], hp['warmup_fraction'], hp['weight_decay'],
            self.total_steps(),
        )  # fmt: skip

    def peak_lr(self) -> float:
        """``lr · global batch / lr_reference_batch``; the reference batch outside a Trainer."""
        hp, world, accumulate, batch = self.hparams, 1, 1, None
        if self._trainer is not None:
            world, accumulate = self.trainer.world_size, self.trainer.accumulate_grad_batches
            batch = self.device_batch_size()
        global_batch = hp['lr_reference_batch'] if batch is None else batch * world * accumulate
        return hp['lr'] * global_batch / hp['lr_reference_batch']

    def device_batch_size(self) -> int | None:
        """Images per device and step: the datamodule's ``batch_size``, else the training
        loader's (a plain ``DataLoader`` passed to ``fit``); ``None`` before either is known."""
        batch = getattr(self.trainer.datamodule, 'batch_size', None)
        return batch or getattr(self.trainer.train_dataloader, 'batch_size', None)

    def total_steps(self) -> int:
        """Optimizer steps of the whole run (every per-step schedule spans these); 1 outside a
        Trainer."""
        return max(int(self.trainer.estimated_stepping_batches), 1) if self._trainer else 1

    def progress(self, step: int | None = None) -> float:
        """Share of optimizer steps done at ``step`` (default: now); 0 outside a Trainer."""
        if self._trainer is None:
            return 0.0
        step = self.global_step if step is None else step
        return min(step / self.total_steps(), 1.0)

    def student_outputs(self, views: MultiCropViews) -> StudentOutputs:
        """Run the student once per needed (stem, view group); every teacher reads these."""
        outputs: StudentOutputs = {}
        for stem, group in self.passes:
            crops = views.local_views if group == 'local' else views.global_views
            x = select_bands(crops.flatten(0, 1), self.multicrop.bands, self.student.bands[stem])
            masking = group == 'global_masked' and self.masker is not None
            mask, token = (views.masks, self.masker.masking_token()) if masking else (None, None)
            features = self.student.encode(x, stem, mask, token)
            outputs[stem, group] = StudentPass(features.maps, features.pooled, crops.shape[0])
        return outputs

    def compute_losses(
        self, images: Tensor, progress: float, check_input: bool = True
    ) -> tuple[Tensor, dict[str, Tensor], StudentOutputs]:
        """Total loss, every named term, and the student outputs for one batch of images."""
        if check_input:
            check_finite_input(images)
        views = self.multicrop(images)
        if self.masker is not None:
            views.masks = self.masker.sample_masks(views)
        targets = [t.targets(views, self.multicrop.bands, progress) for t in self.teachers]
        outputs = self.student_outputs(views)
        total = images.new_zeros((), dtype=torch.float32)
        terms: dict[str, Tensor] = {}
        for teacher, target in zip(self.teachers, targets, strict=True):
            losses = teacher.loss(outputs, target, progress)
            terms |= {f'{teacher.name}/{k}': v for k, v in losses.items()}
            total = total + teacher.weight * losses['loss']
        terms['loss'] = total
        return total, terms, outputs

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> dict[str, Any] | None:
        """Multi-crop, student and teachers, weighted loss; logs every term."""
        images, hp = batch['image'], self.hparams
        every, skip = hp.get('finite_check_every_n_steps', 1), hp['nonfinite'] == 'skip'
        log = self._trainer is not None and log_due(self.trainer, self.global_step)
        check = (
            skip or self.global_step == 0 or (log if every <= 0 else self.global_step % every == 0)
        )
        total, terms, outputs = self.compute_losses(images, self.progress(), check_input=check)
        if check and not torch.isfinite(total):
            message = nonfinite_loss_message(
                self.global_step, batch_idx, terms, 1 if skip else every
            )
            if not skip:
                raise NonFiniteLossError(message)
            rank_zero_warn(f'Skipping the step: {message}')
            return None
        self.log_dict({f'train/{k}': v for k, v in terms.items()}, batch_size=images.shape[0])
        return {'loss': total, 'student': outputs if log else None}  # monitors read them

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        """The same losses on held-out images (random crops, so a noisy but honest monitor)."""
        _, terms, _ = self.compute_losses(batch['image'], self.progress())
        size = batch['image'].shape[0]
        self.log_dict({f'val/{k}': v for k, v in terms.items()}, batch_size=size, sync_dist=True)

    def configure_optimizers(self) -> Optimizer:
        """AdamW; lr and weight decay are set per step from the step count, so resume is exact.

        Reads no ``estimated_stepping_batches``: that would build the training loader before the
        fit loop restores a checkpoint's loader state, and a streaming loader resumed mid-epoch
        would then replay its epoch from the start (Lightning issue 20550).
        """
        hp = self.hparams
        return adamw(self, self.peak_lr(), hp['weight_decay'][0], tuple(hp['betas']))

    def configure_callbacks(self) -> list[Callback]:
        """Collapse monitors, and distillation pictures when asked for."""
        every = self.hparams['image_log_every_n_steps']
        return [CollapseMonitors(), *([FeaturePictures(every)] if every > 0 else [])]

    def on_before_optimizer_step(self, optimizer: Optimizer) -> None:
        """Set this step's lr and weight decay; let teachers touch gradients (e.g. DINO freeze)."""
        schedule, step = self.schedule(), self.global_step
        lr, weight_decay = schedule.lr(step), schedule.decay(step)
        apply_schedule(optimizer, lr, weight_decay)
        for teacher in self.teachers:
            teacher.before_optimizer_step(self.progress())
        if log_due(self.trainer, step):  # a logged float is a blocking copy on CUDA: only then
            self.log_dict({'schedule/lr': lr, 'schedule/weight_decay': weight_decay})

    def configure_gradient_clipping(
        self,
        optimizer: Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """DINO's per-parameter clip at ``clip_grad`` (after Lightning unscales fp16 gradients)."""
        if gradient_clip_val:
            self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)
        clip_per_parameter(self.parameters(), self.hparams['clip_grad'])

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        """Step, then update every teacher once (EMA, centers) with the new student."""
        step = self.global_step  # index of the step being taken
        log, progress = log_due(self.trainer, step), self.progress(step)
        super().optimizer_step(*args, **kwargs)
        for teacher in self.teachers:
            teacher.update(self.student, progress)
            if log:
                for name, value in teacher.scalars(progress).items():
                    self.log(f'schedule/{teacher.name}_{name}', value)

    def on_fit_start(self) -> None:
        """Train mode (teachers' networks stay in eval); the data's band statistics for the
        multicrop's reflectance-unit ops; each rank its own crops and masks.

        Lightning seeds every rank alike; runs after :meth:`on_load_checkpoint`, so a resumed run
        keeps the restored generator states.
        """
        enter_train_mode(self)
        if self.multicrop.needs_band_stats:  # ops in reflectance units undo the standardisation
            normalization = getattr(self.trainer.datamodule, 'normalization', None)
            if normalization is None:
                raise ValueError(
                    'The multicrop has ops in reflectance units, but the data module records no '
                    'band statistics (normalization); use a dtcd data module, or give those ops '
                    'units: standardized.'
                )
            self.multicrop.set_band_stats(normalization)
        restored, self._restored_rng_ranks = self._restored_rng_ranks, 0
        if self.trainer.world_size > 1 and restored != self.trainer.world_size:
            rng.offset_by_rank(self.global_rank)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse non-finite weights; keep every rank's generator states for an exact resume, and
        the teachers' classes (the recipe ``dtcd export`` records)."""
        check_finite_weights(checkpoint['state_dict'], self.global_step)
        checkpoint[rng.CHECKPOINT_KEY] = rng.gather()
        checkpoint['dtcd_recipe'] = {
            'teachers': [f'{type(t).__module__}.{type(t).__qualname__}' for t in self.teachers]
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse another student architecture; restore this rank's generator states."""
        check_same_student(
            (checkpoint.get('hyper_parameters') or {}).get('student'), self.student.config()
        )
        if rng.CHECKPOINT_KEY in checkpoint:
            states = checkpoint[rng.CHECKPOINT_KEY]
            rng.restore(states, self.global_rank)
            self._restored_rng_ranks = len(states)
