"""Training mode for modules that keep frozen networks in eval mode on purpose.

Lightning (2.2+) keeps each module's mode at fit start and warns when any is in eval mode. dtcd's
frozen optical teacher, EMA teacher and frozen probe encoders override ``train()`` to stay in eval
mode (no dropout, drop-path or batch-norm updates in targets and frozen features), so that
warning would fire on every run and hide a real one. :func:`enter_train_mode` puts every other
module in training mode, which is what the warning guards, and silences only that message.
"""

from __future__ import annotations

import warnings

from lightning.pytorch import LightningModule
from lightning.pytorch.utilities.warnings import PossibleUserWarning

#: Lightning's message for eval-mode modules at fit start (lightning/pytorch/loops/fit_loop.py).
EVAL_MODE_WARNING = r'Found \d+ module\(s\) in eval mode at the start of training'


def enter_train_mode(module: LightningModule) -> None:
    """``module.train()`` (frozen parts stay in eval by their own ``train``), then expect them."""
    module.train()
    warnings.filterwarnings('ignore', message=EVAL_MODE_WARNING, category=PossibleUserWarning)
