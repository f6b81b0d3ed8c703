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

from jsonargparse import DefaultHelpFormatter
from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import ArgsType, LightningCLI

import dtcd


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
    from dtcd.models import export_vit_teacher
    from dtcd.models.checkpoints import export_backbone

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
    args = parser.parse_args(list(argv))
    default_prefix = 'student.model.' if args.timm else 'student.'
    prefix = default_prefix if args.prefix is None else args.prefix
    export = export_vit_teacher if args.timm else export_backbone
    print(f'wrote {export(args.checkpoint, args.out, prefix=prefix)}')


def _sweep(argv: Sequence[str]) -> None:
    """``dtcd sweep``: evaluate backbones x probe configs, resumably (see :mod:`dtcd.sweep`)."""
    from dtcd.sweep import main as sweep_main

    sweep_main(argv)


EXTRA_VERBS: dict[str, tuple[Callable[[Sequence[str]], None], str]] = {
    'synth': (_synth, 'Generate SynthEO synthetic Sentinel-2 datasets (no download).'),
    'export': (_export, "Export a checkpoint's student backbone to .safetensors."),
    'sweep': (_sweep, 'Evaluate backbones x probe configs x seeds; tables and plots.'),
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
    """

    def after_fit(self) -> None:
        """Test the checkpoint with the best validation metric (the last weights if none)."""
        from dtcd.probes import BaseProbe

        if not isinstance(self.model, BaseProbe) or self.trainer.interrupted:
            return
        callback = self.trainer.checkpoint_callback
        best = getattr(callback, 'best_model_path', '') if callback else ''
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best or None)


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
    _import_registries()
    DTCDCLI(
        model_class=LightningModule,
        datamodule_class=LightningDataModule,
        seed_everything_default=0,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_kwargs={'overwrite': True},
        parser_kwargs={'epilog': _epilog(), 'formatter_class': _KeepEpilogLines},
        args=args,
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
