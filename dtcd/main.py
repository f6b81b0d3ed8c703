"""The ``dtcd`` command: LightningCLI verbs plus dtcd's own (``synth``, ``export``, ``sweep``).

``dtcd fit|validate|test|predict --config FILE`` are LightningCLI subcommands in subclass mode, so a
YAML file names its model and data by ``class_path``. Extra verbs are plain ``argparse`` programs
dispatched before LightningCLI sees the arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jsonargparse import DefaultHelpFormatter
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.cli import ArgsType, LightningCLI
from lightning.pytorch.utilities import rank_zero_only

import dtcd
from dtcd.precision import precision_on_command_line, resolve_precision


def _synth(argv: Sequence[str]) -> None:
    """``dtcd synth``: write the SynthEO datasets to disk."""
    from dtcd.data.synthetic import PRESETS, generate

    parser = argparse.ArgumentParser(
        prog='dtcd synth',
        description='Generate SynthEO, offline synthetic Sentinel-2 data in real dataset layouts.',
    )
    parser.add_argument('--out', type=Path, required=True, help='output directory')
    parser.add_argument('--preset', choices=sorted(PRESETS), default='tiny')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(list(argv))
    summary = generate(args.out, preset=args.preset, seed=args.seed)
    print(summary.format())


def _export(argv: Sequence[str]) -> None:
    """``dtcd export``: write a checkpoint's student backbone as a standalone safetensors file."""
    from dtcd.models.checkpoints import export_backbone, export_vit_teacher

    parser = argparse.ArgumentParser(
        prog='dtcd export',
        description='Export the student (Swin body + stems) of a dtcd checkpoint or of the DEO '
        "authors' weights to safetensors, with its architecture and band lists as metadata; "
        "with --timm, a ViTStudent's bare timm weights (what FrozenTeacher and timm: probe "
        'backbones load).',
    )
    parser.add_argument('checkpoint', type=Path, help='dtcd Lightning checkpoint or DEO weights')
    parser.add_argument('out', type=Path, help='output .safetensors file')
    parser.add_argument(
        '--timm', action='store_true', help="the checkpoint's network is a ViTStudent's timm ViT"
    )
    parser.add_argument(
        '--prefix',
        help="key prefix of the network in the checkpoint (default 'student.', with --timm "
        "'student.model.'; a first SelfDistillation teacher's EMA copy is under "
        "'teachers.0.teacher.backbone.' + 'model.' for a ViT)",
    )
    parser.add_argument(
        '--license', help="the weights' licence, recorded in the export (e.g. CC-BY-4.0)"
    )
    args = parser.parse_args(list(argv))
    default_prefix = 'student.model.' if args.timm else 'student.'
    prefix = default_prefix if args.prefix is None else args.prefix
    if args.timm:
        out = export_vit_teacher(args.checkpoint, args.out, prefix=prefix)
    else:
        out = export_backbone(args.checkpoint, args.out, prefix=prefix, license=args.license)
    print(f'wrote {out}')


def _teacher(argv: Sequence[str]) -> None:
    """``dtcd teacher``: train the stand-in optical teacher (see :mod:`dtcd.standin_teacher`)."""
    from dtcd.standin_teacher import main as teacher_main

    teacher_main(argv)


def _sweep(argv: Sequence[str]) -> None:
    """``dtcd sweep``: evaluate backbones x probe configs, resumably (see :mod:`dtcd.sweep`)."""
    from dtcd.sweep import main as sweep_main

    sweep_main(argv)


def _shard(argv: Sequence[str]) -> None:
    """``dtcd shard``: convert a pretraining source into LitData shards."""
    import json

    from dtcd.data.shards import SOURCES, write_shards

    parser = argparse.ArgumentParser(
        prog='dtcd shard',
        description='Convert a pretraining source into LitData shards that '
        'StreamingPretrainDataModule streams from a folder or object storage. Sources: '
        + '; '.join(f'{name}: {what}' for name, (_, what) in SOURCES.items()),
    )
    parser.add_argument('source', choices=sorted(SOURCES))
    parser.add_argument('root', help='where the source is (folder or file)')
    parser.add_argument('out', help='output folder or s3://bucket/prefix')
    parser.add_argument('--limit', type=int, help='convert only the first N samples')
    parser.add_argument('--workers', type=int, default=1, help='conversion processes')
    parser.add_argument('--chunk-bytes', default='64MB', help='shard chunk size')
    parser.add_argument(
        '--storage-options', type=json.loads, default={}, help='JSON, e.g. {"endpoint_url": ...}'
    )
    parser.add_argument(
        '--option', action='append', default=[], metavar='KEY=VALUE',
        help="the source reader's options, e.g. split=s2a (ssl4eo-s12), layout=nhwc (deo-hdf5)",
    )  # fmt: skip
    args = parser.parse_args(list(argv))
    options = dict(option.split('=', 1) for option in args.option)
    count = write_shards(
        args.source, args.root, args.out, args.limit, args.workers, args.chunk_bytes,
        args.storage_options, **options,
    )  # fmt: skip
    print(f'wrote {count} samples of {args.source} to {args.out}')


EXTRA_VERBS: dict[str, tuple[Callable[[Sequence[str]], None], str]] = {
    'synth': (_synth, 'Generate SynthEO synthetic Sentinel-2 datasets (no download).'),
    'export': (_export, "Export a checkpoint's student backbone to .safetensors."),
    'sweep': (_sweep, 'Evaluate backbones x probe configs x seeds; tables and plots.'),
    'teacher': (_teacher, 'Train the stand-in optical teacher on SynthEO material truth.'),
    'shard': (_shard, 'Convert a pretraining source into LitData shards (streaming).'),
}


class _KeepEpilogLines(DefaultHelpFormatter):
    """Help formatter that keeps the epilog's line breaks (one extra verb per line)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return ''.join(indent + line for line in text.splitlines(keepends=True))


def _epilog() -> str:
    lines = [f'  {verb:<10}{help_}' for verb, (_, help_) in EXTRA_VERBS.items()]
    return 'dtcd verbs besides the Lightning ones above:\n' + '\n'.join(lines)


class DTCDCLI(LightningCLI):
    """LightningCLI that, after ``fit``, tests a probe's best validation checkpoint.

    DEO's protocol selects the epoch on the validation split and reports that epoch on test
    (PAPER.md §3.2–3.3); doing it here makes one ``dtcd fit`` produce the reported number.
    It also resolves a config's bf16 preference to what the hardware runs well
    (:mod:`dtcd.precision`), unless the command line sets ``--trainer.precision``.

    Args:
        argv: The command line, to tell a precision given there from one in a config file.
        **kwargs: Passed to LightningCLI.
    """

    def __init__(self, argv: Sequence[str], **kwargs: Any) -> None:
        self._precision_given = precision_on_command_line(list(argv))
        super().__init__(**kwargs)

    def instantiate_classes(self) -> None:
        """Build the classes; a model or data error surfaces as itself, not as a Union mismatch.

        jsonargparse reports an exception raised while building a ``class_path`` value as
        "Does not validate against any of the Union subtypes", with dtcd's message (a missing
        dataset root, a missing band) as one line among others. That line is raised on its own.
        """
        try:
            super().instantiate_classes()
        except ValueError as error:
            cause = _union_error_cause(str(error))
            if cause is None:
                raise
            raise ConfigurationError(cause) from None

    def before_instantiate_classes(self) -> None:
        """Run a config's bf16 preference as bf16 only where it is native; say what was chosen."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        trainer = config.get('trainer')
        if trainer is None or self._precision_given or trainer.get('precision') is None:
            return
        preferred = str(trainer['precision'])
        accelerator = trainer.get('accelerator') or 'auto'
        if not isinstance(accelerator, str):  # an Accelerator object: the user chose it
            return
        resolved = resolve_precision(preferred, accelerator)
        trainer['precision'] = resolved.precision
        rank_zero_only(print)(resolved.message(preferred))

    def after_fit(self) -> None:
        """Test the checkpoint with the best validation metric (the last weights if none).

        A run that took no optimizer step is an error, never a result: testing it would report
        an untrained model's numbers.
        """
        from dtcd.probes import BaseProbe

        if self.trainer.interrupted:
            return
        if self.trainer.global_step == 0:
            raise RuntimeError(
                'dtcd fit took no training step, so there is nothing to test or keep: '
                f'{_train_loader_size(self.trainer)}. Lower the batch size, use more training '
                'data (train_fraction), or check `limit_train_batches` / `max_steps`.'
            )
        if not isinstance(self.model, BaseProbe):
            return
        callback = self.trainer.checkpoint_callback
        best = getattr(callback, 'best_model_path', '') if callback else ''
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best or None)


class ConfigurationError(ValueError):
    """A class named in the config could not be built; the message says why and what to do."""


def _union_error_cause(message: str) -> str | None:
    """The class's own error inside jsonargparse's Union mismatch report, if that is one."""
    if 'Does not validate against any of the Union subtypes' not in message:
        return None
    _, _, errors = message.partition('\nErrors:\n')
    causes = [
        line.removeprefix('  - ')
        for line in errors.splitlines()
        if line.startswith('  - ') and not line.startswith("  - Expected a <class 'NoneType'>")
    ]
    return '\n'.join(causes) or None


def _train_loader_size(trainer: Trainer) -> str:
    """The training split's size, batch size and batch limit, as far as they are known."""
    datamodule = trainer.datamodule
    dataset = getattr(datamodule, 'train_dataset', None)
    size = len(dataset) if hasattr(dataset, '__len__') else '?'
    batch = getattr(datamodule, 'batch_size', '?')
    return (
        f'{size} training samples, batch size {batch}, '
        f'limit_train_batches {trainer.limit_train_batches}'
    )


def main(args: ArgsType = None) -> None:
    """Command-line entry point (console script ``dtcd``).

    Args:
        args: Arguments to parse instead of ``sys.argv[1:]`` (used by tests and notebooks).
    """
    argv = list(sys.argv[1:] if args is None else args)  # type: ignore[arg-type]
    if argv and argv[0] in EXTRA_VERBS:
        EXTRA_VERBS[argv[0]][0](argv[1:])
        return
    if argv and argv[0] in ('--version', '-V'):
        print(f'dtcd {dtcd.__version__}')
        return
    build_cli(None if args is None else argv)


def build_cli(args: Sequence[str] | None = None, run: bool = True) -> DTCDCLI:
    """The LightningCLI of ``dtcd fit|validate|test|predict`` (``run=False``: parse and build).

    Args:
        args: The arguments (``None``: ``sys.argv[1:]``, read by LightningCLI itself).
        run: Run the subcommand (``False``: ``args`` hold no subcommand; only build).
    """
    _import_registries()
    return DTCDCLI(
        sys.argv[1:] if args is None else args,
        model_class=LightningModule,
        datamodule_class=LightningDataModule,
        seed_everything_default=0,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_kwargs={'overwrite': True},
        parser_kwargs={'epilog': _epilog(), 'formatter_class': _KeepEpilogLines},
        args=None if args is None else list(args),
        run=run,
    )


def _import_registries() -> None:
    """Import dtcd's modules so YAML can name their classes by bare name."""
    import dtcd.augment
    import dtcd.data.datamodules
    import dtcd.distill
    import dtcd.models
    import dtcd.pretrain
    import dtcd.probes  # noqa: F401


if __name__ == '__main__':
    main()
