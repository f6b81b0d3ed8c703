"""DistillationModule: dual-teacher (or N-teacher) contrastive distillation pretraining.

One training step (DESIGN.md): multi-crop on the device → the student once per (stem, view
group) that some teacher needs → each teacher's targets (no grad) and loss → weighted sum →
AdamW step with per-step lr / weight-decay schedules and per-parameter clipping → after the step,
each teacher's ``update`` (EMA, centering) exactly once, also under gradient accumulation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from lightning.pytorch import Callback, LightningModule
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor
from torch.optim import AdamW, Optimizer

from dtcd import rng
from dtcd.augment import MultiCrop, MultiCropViews
from dtcd.bands import band_indices, reindex
from dtcd.distill.base import StudentOutputs, StudentPass, Teacher
from dtcd.distill.schedules import cosine, warmup_cosine
from dtcd.feature_pictures import FeaturePictures
from dtcd.models import Student
from dtcd.monitor import effective_rank, embedding_std
from dtcd.train_mode import enter_train_mode


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite."""


class NonFiniteWeightsError(FloatingPointError):
    """A weight became NaN or infinite; saving it would overwrite the last good checkpoint."""


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
        finite_check_every_n_steps: How often training checks input pixels and the loss for NaN /
            Inf. Each check makes the host wait for the device (a GPU stall per step). ``1``
            checks every step and names the first bad one; ``n > 1`` checks every ``n`` steps;
            ``0`` checks on the first step and on the steps Lightning writes logs (it waits for
            the device there anyway). ``nonfinite: skip`` checks every step (it must decide
            before stepping). Non-finite weights are never checkpointed either way.
        image_log_every_n_steps: Log pictures of the input with teacher and student patch
            features in one PCA basis and their per-patch cosine this often, and before the
            first and after the last step (:class:`~dtcd.feature_pictures.FeaturePictures`;
            0 disables).
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
        if not teachers:
            raise ValueError('DistillationModule needs at least one teacher.')
        names = [t.name for t in teachers]
        if len(set(names)) != len(names):
            raise ValueError(f'Teacher names must be unique (they prefix logged terms): {names}.')
        self.student = student
        self.teachers = torch.nn.ModuleList(teachers)
        for teacher in self.teachers:
            teacher.bind(student)
        self.multicrop = multicrop or MultiCrop()
        self.passes = sorted(set().union(*(t.required_passes() for t in self.teachers)))
        maskers = [
            t for t in self.teachers if any(g == 'global_masked' for _, g in t.required_passes())
        ]
        if len(maskers) > 1:
            raise ValueError('Only one teacher may mask the global views (they share one pass).')
        self.masker = maskers[0] if maskers else None
        self._restored_rng_ranks = 0  # ranks whose generator states the resumed checkpoint held

    # ----------------------------------------------------------------------------- forward
    def total_steps(self) -> int:
        """Optimizer steps of the whole run (every per-step schedule spans these)."""
        return max(int(self.trainer.estimated_stepping_batches), 1)

    def progress(self, step: int | None = None) -> float:
        """Share of optimizer steps done at ``step`` (default: now), in [0, 1].

        0 outside a Trainer, e.g. in a notebook.
        """
        if self._trainer is None:
            return 0.0
        return min((self.global_step if step is None else step) / self.total_steps(), 1.0)

    def student_outputs(self, views: MultiCropViews) -> StudentOutputs:
        """Run the student once per needed (stem, view group); every teacher reads these."""
        bands = self.multicrop.bands
        outputs: StudentOutputs = {}
        for stem, group in self.passes:
            crops = views.local_views if group == 'local' else views.global_views
            x = _select_bands(crops.flatten(0, 1), bands, self.student.bands[stem])
            if group == 'global_masked':
                token = self.masker.mask_token  # type: ignore[union-attr]
                features = self.student.forward_features(x, stem, views.masks, token)
            else:
                features = self.student.forward_features(x, stem)
            outputs[stem, group] = StudentPass(
                features, self.student.embedding(features), crops.shape[0]
            )
        return outputs

    def compute_losses(
        self, images: Tensor, progress: float, check_input: bool = True
    ) -> tuple[Tensor, dict[str, Tensor], StudentOutputs]:
        """Total loss, every named term, and the student outputs for one batch of images."""
        if check_input:
            self._check_finite_input(images)
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

    # ---------------------------------------------------------------------------- training
    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor | None:
        """Multi-crop, student and teachers, weighted loss; logs every term."""
        images = batch['image']
        progress = self.progress()
        check = self._finite_check_due()
        if check:
            self._check_finite_input(images)
        total, terms, outputs = self.compute_losses(images, progress, check_input=False)
        if check and not torch.isfinite(total):
            bad = [k for k, v in terms.items() if not torch.isfinite(v)]
            every = self.hparams.get('finite_check_every_n_steps', 1)
            since = (
                ''
                if every == 1 or self.hparams['nonfinite'] == 'skip' or self._trainer is None
                else ' (not checked every step, so it may have turned non-finite a few steps '
                'earlier; set `finite_check_every_n_steps: 1` to find the first one)'
            )
            message = (
                f'Non-finite loss at step {self.global_step} (batch {batch_idx}): {bad}{since}. '
                'Lower the learning rate, use bf16 instead of fp16, or check the data for '
                'NaN / Inf pixels; set `nonfinite: skip` to skip such steps.'
            )
            if self.hparams['nonfinite'] == 'raise':
                raise NonFiniteLossError(message)
            rank_zero_warn(f'Skipping the step: {message}')
            return None
        batch_size = images.shape[0]
        self.log_dict({f'train/{k}': v for k, v in terms.items()}, batch_size=batch_size)
        if self._should_log_now():
            self._log_monitors(outputs, batch_size)
        return total

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        """The same losses on held-out images (random crops, so a noisy but honest monitor)."""
        _, terms, _ = self.compute_losses(batch['image'], self.progress())
        self.log_dict(
            {f'val/{k}': v for k, v in terms.items()},
            batch_size=batch['image'].shape[0],
            sync_dist=True,
        )

    def _finite_check_due(self) -> bool:
        """Whether this training step checks for NaN / Inf (each check stalls a GPU)."""
        every = self.hparams.get('finite_check_every_n_steps', 1)
        if self._trainer is None or self.hparams['nonfinite'] == 'skip' or self.global_step == 0:
            return True
        if every <= 0:
            return self._should_log_now()
        return self.global_step % every == 0

    def _check_finite_input(self, images: Tensor) -> None:
        if not torch.isfinite(images).all():
            bad = (~torch.isfinite(images)).flatten(2).any(-1).nonzero().tolist()
            raise ValueError(
                f'Non-finite pixels in the input batch at (sample, band) {bad[:8]}: fill no-data '
                'pixels in the dataset (e.g. with the band mean) before pretraining.'
            )

    def configure_callbacks(self) -> list[Callback]:
        """Distillation pictures, when asked for."""
        every = self.hparams['image_log_every_n_steps']
        return [FeaturePictures(every)] if every > 0 else []

    # --------------------------------------------------------------------------- optimizer
    def configure_optimizers(self) -> Optimizer:
        """AdamW with two groups: weight decay on weights, none on norms and biases.

        Learning rate and weight decay are set per optimizer step in
        :meth:`on_before_optimizer_step`, from the step count only, so resuming is exact.
        """
        decay, no_decay = [], []
        for name, param in self.named_parameters():
            if not param.requires_grad:
                continue
            (no_decay if param.ndim <= 1 or name.endswith('.bias') else decay).append(param)
        groups = [
            {'params': decay, 'weight_decay': self.hparams['weight_decay'][0], 'apply_wd': True},
            {'params': no_decay, 'weight_decay': 0.0, 'apply_wd': False},
        ]
        # One fused kernel per step instead of a loop over ~200 tensors (PAPER.md §2.9: fused).
        fused = all(p.device.type in _FUSED_DEVICES for p in decay + no_decay)
        return AdamW(
            groups, lr=self.peak_lr(), betas=tuple(self.hparams['betas']), fused=fused or None
        )

    def peak_lr(self) -> float:
        """``lr × global batch / lr_reference_batch`` (the DINO scaling rule)."""
        global_batch = self._global_batch_size()
        return self.hparams['lr'] * global_batch / self.hparams['lr_reference_batch']

    def _global_batch_size(self) -> int:
        if self._trainer is None:
            return self.hparams['lr_reference_batch']
        loader_batch = getattr(self.trainer.datamodule, 'batch_size', None)
        if loader_batch is None:
            return self.hparams['lr_reference_batch']
        return int(loader_batch) * self.trainer.world_size * self.trainer.accumulate_grad_batches

    def scheduled_lr(self, step: int) -> float:
        """Learning rate of optimizer step ``step``."""
        total = self.total_steps()
        warmup = round(self.hparams['warmup_fraction'] * total)
        return warmup_cosine(step, total, warmup, self.peak_lr(), self.hparams['min_lr'])

    def on_before_optimizer_step(self, optimizer: Optimizer) -> None:
        """Set this step's lr and weight decay; let teachers touch gradients (e.g. DINO freeze)."""
        lr = self.scheduled_lr(self.global_step)
        weight_decay = cosine(self.progress(), *self.hparams['weight_decay'])
        for group in optimizer.param_groups:
            group['lr'] = lr
            if group.get('apply_wd'):
                group['weight_decay'] = weight_decay
        for teacher in self.teachers:
            teacher.before_optimizer_step(self.progress())
        # Logging a float copies it to the device, a blocking copy on CUDA: only when written.
        if self._should_log_now():
            self.log_dict({'schedule/lr': lr, 'schedule/weight_decay': weight_decay})

    def configure_gradient_clipping(
        self,
        optimizer: Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """DINO's per-parameter clip: each gradient's norm is capped at ``clip_grad``.

        Lightning calls this after unscaling fp16 gradients, so the cap is in true units.
        """
        if gradient_clip_val:
            self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)
        clip = self.hparams['clip_grad']
        if clip <= 0:
            return
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        if not grads:
            return
        # Three kernels for all gradients instead of two per gradient; no host round trip.
        norms = torch.stack(torch._foreach_norm(grads))
        factors = (clip / (norms + 1e-6)).clamp(max=1.0)
        torch._foreach_mul_(grads, list(factors.unbind()))

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        """Step, then update every teacher once (EMA, centers) with the new student."""
        step = self.global_step  # index of the step being taken
        super().optimizer_step(*args, **kwargs)
        progress = self.progress(step)
        log = self._should_log_now()
        for teacher in self.teachers:
            teacher.update(self.student, progress)
            if log and hasattr(teacher, 'current_momentum'):
                self.log(f'schedule/{teacher.name}_momentum', teacher.current_momentum(progress))

    # ------------------------------------------------------------------------------ resume
    def on_fit_start(self) -> None:
        """Give each rank its own crops and masks: Lightning seeds every rank alike.

        Runs after :meth:`on_load_checkpoint`, so a resumed run keeps the restored states. Also
        enters training mode with the teachers' networks in eval mode (:mod:`dtcd.train_mode`).
        """
        enter_train_mode(self)
        restored, self._restored_rng_ranks = self._restored_rng_ranks, 0
        world = self.trainer.world_size
        if world > 1 and restored != world:
            rng.offset_by_rank(self.global_rank)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse non-finite weights; keep every rank's generator states for an exact resume."""
        tensors = {k: v for k, v in checkpoint['state_dict'].items() if _is_float_tensor(v)}
        if tensors and not torch.stack([v.isfinite().all() for v in tensors.values()]).all():
            bad = [k for k, v in tensors.items() if not v.isfinite().all()]
            raise NonFiniteWeightsError(
                f'Non-finite weights at step {self.global_step}: {bad[:8]}; not saving them over '
                'the last good checkpoint. Resume from it with a lower learning rate or bf16.'
            )
        checkpoint[rng.CHECKPOINT_KEY] = rng.gather()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse another student architecture; restore this rank's generator states."""
        saved = (checkpoint.get('hyper_parameters') or {}).get('student')
        ours = self.student.config()
        if isinstance(saved, dict):
            saved = saved.get('init_args', saved)
            keys = [k for k in ours if k not in _NON_ARCH_KEYS]
            differ = {k: (saved.get(k), ours[k]) for k in keys if saved.get(k) != ours[k]}
            if differ:
                raise ValueError(
                    "The checkpoint's student differs from this one (checkpoint value, value "
                    f'now): {differ}. Resume with the config the run was started with (its '
                    'config.yaml beside the logs), or start a new run initialised from the weights '
                    'with `MultiStemSwin.from_pretrained`.'
                )
        if rng.CHECKPOINT_KEY in checkpoint:
            states = checkpoint[rng.CHECKPOINT_KEY]
            rng.restore(states, self.global_rank)
            self._restored_rng_ranks = len(states)

    # ----------------------------------------------------------------------------- logging
    def _should_log_now(self) -> bool:
        """True on the steps Lightning writes logs, so costly monitors run only then."""
        if self._trainer is None:
            return False
        return bool(self.trainer._logger_connector.should_update_logs or self.trainer.fast_dev_run)

    @torch.no_grad()
    def _log_monitors(self, outputs: StudentOutputs, batch_size: int) -> None:
        """Collapse monitors: per-dimension std of normalised embeddings and effective rank."""
        for teacher in self.teachers:
            for name, features in teacher.student_features(outputs).items():
                features = features.float()
                self.log(f'monitor/{name}_std', embedding_std(features), batch_size=batch_size)
                self.log(f'monitor/{name}_rank', effective_rank(features), batch_size=batch_size)


#: Student settings that do not shape the checkpoint's tensors.
_NON_ARCH_KEYS = ('variant', 'drop_path_rate', 'grad_checkpointing')


#: Devices with a fused AdamW kernel (torch >= 2.4 has CPU and CUDA).
_FUSED_DEVICES = ('cuda', 'cpu', 'xpu', 'mps')


def _select_bands(x: Tensor, source: Sequence[str], target: Sequence[str]) -> Tensor:
    """``reindex`` on dim 1, as a view when the bands are consecutive (RGB first in DEO10).

    Avoids the band copy and the index tensor built per call, a blocking host-to-device copy on
    CUDA.
    """
    indices = band_indices(source, target)
    start = indices[0]
    if indices == list(range(start, start + len(indices))):
        return x[:, start : start + len(indices)]
    return reindex(x, source, target, dim=1)


def _is_float_tensor(value: Any) -> bool:
    return isinstance(value, Tensor) and value.is_floating_point()
