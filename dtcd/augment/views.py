"""Which augmentation ops see which bands of which views, in which units.

A :class:`ViewOps` entry names its bands (by name, never by position), the view groups it applies
to and the units its ops expect; :class:`~dtcd.augment.MultiCrop` runs the entries in order on
every view group after the shared crop geometry. Units:

- ``unit``: the RGB bands brought back to [0, 1] and divided by the crop's RGB maximum (DEO's
  scaling; the ops of :mod:`dtcd.augment.ops` and Kornia's colour ops expect [0, 1]); written back
  standardised, the per-crop scaling kept, as the authors do;
- ``reflectance``: each band's standardisation undone with the data module's statistics, divided
  by the digital-number scale (Sentinel-2: 10000);
- ``standardized``: as the student sees them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import Tensor, nn

from dtcd.bands import resolve_bands

__all__ = ['Units', 'ViewOps', 'view_names']

Units = Literal['unit', 'reflectance', 'standardized']


def view_names(num_global: int) -> list[str]:
    """The view groups ops are given for: ``global0``, ``global1``, ..., ``local``."""
    return [f'global{g}' for g in range(num_global)] + ['local']


class ViewOps(nn.Module):
    """Ops applied in order to some bands of some view groups.

    Args:
        ops: Modules mapping ``[N, C, H, W]`` to the same shape (per-crop randomness), e.g.
            ``kornia.augmentation.ColorJitter`` or :class:`dtcd.augment.spectral.BandGainOffset`.
        bands: The bands they see, in this order (a set name such as ``'rgb'`` or a list).
        views: View groups: ``global`` (all global views), ``global0``, ``global1``, ...,
            ``local``, or ``all``.
        units: What the ops expect (see the module).
    """

    def __init__(
        self,
        ops: Sequence[nn.Module],
        bands: str | Sequence[str] = 'rgb',
        views: str | Sequence[str] = 'all',
        units: Units = 'unit',
    ) -> None:
        super().__init__()
        self.ops = nn.ModuleList(ops)
        self.bands = resolve_bands(bands)
        self.views = (views,) if isinstance(views, str) else tuple(views)
        if units not in ('unit', 'reflectance', 'standardized'):
            raise ValueError(f'units {units!r}: unit, reflectance or standardized.')
        self.units = units

    def applies_to(self, view: str) -> bool:
        """Whether ``view`` (``global<g>`` or ``local``) is one of this entry's groups."""
        return any(
            group in ('all', view) or (group == 'global' and view.startswith('global'))
            for group in self.views
        )

    def check(self, num_global: int) -> None:
        """Raise naming a view group that this crop setup does not have."""
        known = {'all', 'global', *view_names(num_global)}
        unknown = [v for v in self.views if v not in known]
        if unknown:
            raise ValueError(
                f'Unknown view group(s) {unknown}; this MultiCrop has {sorted(known)}.'
            )

    def forward(self, x: Tensor) -> Tensor:
        for op in self.ops:
            x = op(x)
        return x
