"""Which stem of a student reads a dataset's bands.

Two rules: dtcd's probes, timm and TorchGeo feed the input exactly as its bands are named, so
:func:`choose_stem` is strict (a lacking band is an error naming it); TerraTorch and PANGAEA
configure a backbone from a dataset's band list, so :func:`adapt_to_bands` follows their own
custom (TerraTorch's ``select_patch_embed_weights``): it rebuilds the stem for the data's bands
and announces what it dropped or added.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from dtcd.bands import MissingBandError, band_indices, resolve_bands
from dtcd.models.student import MultiStemSwin

__all__ = ['adapt_to_bands', 'choose_stem']


def choose_stem(
    backbone: MultiStemSwin, stem: str | None = None, bands: Sequence[str] | None = None
) -> tuple[str, list[int] | None]:
    """The stem to run and the input channels that feed it (``None``: all, in order).

    With ``bands`` (the input's band names), the stem is the one with the most bands that the
    input all has, unless ``stem`` names it; a stem band the input lacks is an error naming it.
    """
    if stem is not None and stem not in backbone.stems:
        raise ValueError(f'Unknown stem {stem!r}; this model has stems {list(backbone.stems)}.')
    if bands is None:
        return stem or ('ms' if 'ms' in backbone.stems else next(iter(backbone.stems))), None
    names = resolve_bands(bands) if isinstance(bands, str) else tuple(bands)
    if stem is None:
        covered = [s for s, need in backbone.bands.items() if set(need) <= set(names)]
        if not covered:
            lacking = {s: sorted(set(need) - set(names)) for s, need in backbone.bands.items()}
            raise MissingBandError(
                f'No stem of this model can run on bands {list(names)}: each lacks some '
                f'(stem: missing bands) {lacking}.'
            )
        stem = max(covered, key=lambda s: len(backbone.bands[s]))
    try:
        return stem, band_indices(names, backbone.bands[stem])
    except MissingBandError as error:
        raise MissingBandError(f'Stem {stem!r}: {error}') from None


def adapt_to_bands(
    backbone: MultiStemSwin, bands: Sequence[str] | None, stem: str | None = None
) -> MultiStemSwin:
    """A copy of ``backbone`` with one stem, rebuilt for input ``bands`` in their order.

    The stem is ``stem``, else the one sharing most bands with the data (of those, the one lacking
    fewest). A stem band the data lacks is dropped, as if fed at its pretraining mean; a data band
    the stem never saw starts with a zero kernel (:meth:`~dtcd.models.PatchStem.for_bands`); a
    warning names either. Without ``bands``, the stem runs as trained.
    """
    if bands is None:
        return backbone.with_stems([choose_stem(backbone, stem)[0]])
    if stem is not None and stem not in backbone.stems:
        raise ValueError(f'Unknown stem {stem!r}; this model has stems {list(backbone.stems)}.')
    if stem is None:
        stem = max(
            backbone.bands,
            key=lambda s: (len(set(backbone.bands[s]) & set(bands)), -len(backbone.bands[s])),
        )
    own = backbone.bands[stem]
    missing = [b for b in own if b not in bands]
    extra = [b for b in bands if b not in own]
    if missing:
        warnings.warn(
            f'Stem {stem!r} was trained on {list(own)}; the data lacks {missing}: their input '
            'weights are dropped (as if fed at their pretraining mean).',
            stacklevel=3,
        )
    if extra:
        warnings.warn(
            f'Stem {stem!r} never saw bands {extra}: they start with zero input weights.',
            stacklevel=3,
        )
    return backbone.for_bands(stem, bands)
