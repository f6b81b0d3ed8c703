"""A dtcd student as a PANGAEA encoder (yurujaja/pangaea-bench), built by its Hydra configs.

PANGAEA is not on PyPI, so this module imports only where its repository is installed; the
encoder YAML is ``experiments/pangaea/encoder/dtcd_swin.yaml`` (copy it into PANGAEA's
``configs/encoder/``). The encoder subclasses PANGAEA's own ``Encoder``: ``input_bands`` (one
modality, PANGAEA's band names ``B2``, ``B8A``, ...) choose and rebuild the stem as
:func:`dtcd.models.stems.adapt_to_bands` does; ``forward`` returns the ``output_layers``
stage maps, a pyramid (strides 4-32); weights are read by dtcd's safe loaders from
``encoder_weights`` (a ``dtcd export`` file, a dtcd checkpoint or the DEO weights), never
downloaded.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from logging import Logger
from pathlib import Path

from pangaea.encoders.base import Encoder
from torch import Tensor

from dtcd.bands import canonical_bands
from dtcd.models import MultiStemSwin
from dtcd.models.checkpoints import architecture
from dtcd.models.stems import adapt_to_bands

__all__ = ['DTCDSwinEncoder']


def _architecture(path: Path) -> MultiStemSwin:
    """The student ``path`` holds, without reading its tensors where the file allows."""
    if not path.is_file():
        raise FileNotFoundError(
            f'encoder_weights {path} does not exist; point it at a `dtcd export` file (dtcd '
            'encoders are never downloaded).'
        )
    return MultiStemSwin(**architecture(path))


class DTCDSwinEncoder(Encoder):
    """One stem of a :class:`~dtcd.models.MultiStemSwin` in PANGAEA's encoder interface.

    Args:
        encoder_weights: The student's file.
        input_bands: One modality to its band names, e.g. ``{'optical': ['B2', 'B3', 'B4']}``.
        input_size: Side of PANGAEA's input crops.
        output_layers: Stages to return (0-3).
        output_dim: Their widths, if the YAML states them (checked against the file).
        download_url: Must be empty: nothing is downloaded.
        stem: The stem to run (default: chosen by the bands).
    """

    def __init__(
        self,
        encoder_weights: str | Path,
        input_bands: dict[str, list[str]],
        input_size: int,
        output_layers: Sequence[int] = (0, 1, 2, 3),
        output_dim: int | Sequence[int] | None = None,
        download_url: str | None = None,
        stem: str | None = None,
    ) -> None:
        if download_url:
            raise ValueError('dtcd encoders are read from local files: leave download_url empty.')
        if len(input_bands) != 1:
            raise ValueError(
                f'DTCDSwinEncoder reads one modality; got {list(input_bands)} (a SAR stem '
                'and fusing modalities are not part of dtcd yet).'
            )
        ((self.modality, names),) = input_bands.items()
        backbone = adapt_to_bands(
            _architecture(Path(encoder_weights)), canonical_bands(names), stem
        )
        layers = list(output_layers)
        widths = [backbone.feature_dims[i] for i in layers]
        stated = [output_dim] * len(layers) if isinstance(output_dim, int) else output_dim
        if stated is not None and list(stated) != widths:
            raise ValueError(f'output_dim {list(stated)}: the file gives {widths} for {layers}.')
        super().__init__(
            model_name='dtcd_swin',
            encoder_weights=encoder_weights,
            input_bands=input_bands,
            input_size=input_size,
            embed_dim=backbone.embed_dim,
            output_layers=layers,
            output_dim=widths,
            multi_temporal=False,
            multi_temporal_output=False,
            pyramid_output=True,
            download_url='',
        )
        self.stem = next(iter(backbone.stems))
        self.requested_stem = stem
        self.backbone = backbone

    def load_encoder_weights(self, logger: Logger) -> None:
        """Load the file's student, its stem rebuilt for ``input_bands`` (strictly)."""
        names = canonical_bands(self.input_bands[self.modality])
        trained = MultiStemSwin.from_pretrained(self.encoder_weights)
        with warnings.catch_warnings():  # the band warnings were given when the encoder was built
            warnings.simplefilter('ignore')
            adapted = adapt_to_bands(trained, names, self.requested_stem)
        self.backbone.load_state_dict(adapted.state_dict())
        logger.info(f'Loaded the dtcd student {self.encoder_weights} (stem {self.stem!r}).')

    def forward(self, x: dict[str, Tensor]) -> list[Tensor]:
        """``{modality: [B, C, H, W]}`` (or ``[B, C, 1, H, W]``) to the ``output_layers`` maps."""
        images = x[self.modality]
        if images.ndim == 5:
            images = images.squeeze(2)
        maps = self.backbone.forward_features(images, self.stem)
        return [maps[i] for i in self.output_layers]
