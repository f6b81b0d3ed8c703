"""dtcd exports as TorchGeo weights, for TorchGeo's trainers (``ClassificationTask``,
``SemanticSegmentationTask``), which build timm models by name and load a ``WeightsEnum``.

    weights = dtcd_weights('student.safetensors', tag='mine')
    task = ClassificationTask(model=weights.meta['model'], weights=weights,
                              in_channels=weights.meta['in_chans'], num_classes=10)

The file is read by dtcd's safe loader (safetensors; no pickle), its tensors named as the timm
model holds them: TorchGeo loads with ``strict=False``, where a wrong prefix would load nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from torch import Tensor, nn
from torchvision.models._api import Weights, WeightsEnum

from dtcd.integrations.timm import register_export
from dtcd.models import MultiStemSwin
from dtcd.models.checkpoints import export_config

__all__ = ['DTCDWeights', 'dtcd_weights']


class DTCDWeights(WeightsEnum):
    """Weights of dtcd exports; members are made by :func:`dtcd_weights`."""

    def get_state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Tensor]:
        """The export's tensors under the timm model's names (``backbone.`` + dtcd's)."""
        path = unquote(urlparse(self.url).path)
        backbone = MultiStemSwin.from_pretrained(path)
        return {f'backbone.{key}': value for key, value in backbone.state_dict().items()}


def dtcd_weights(
    file: str | Path,
    tag: str = 'export',
    stem: str = 'ms',
    dataset: str = 'unknown',
    license: str = 'see the export',
) -> DTCDWeights:
    """A TorchGeo ``WeightsEnum`` member for an exported student (``dtcd export``).

    Its ``meta`` has TorchGeo's fields: ``model`` (the timm name, ``dtcd_swin.<tag>``, which this
    registers), ``in_chans`` and ``bands`` (of ``stem``), ``dataset``, ``publication``, ``repo``,
    ``ssl_method`` and ``license``. ``transforms`` is the identity: normalise with the statistics
    the student was pretrained with, as the data module does.
    """
    path = Path(file).resolve()
    bands = export_config(path)['stems'].get(stem)
    if bands is None:
        raise ValueError(
            f'{path} has no stem {stem!r}; its stems: {list(export_config(path)["stems"])}.'
        )
    meta = {
        'dataset': dataset,
        'in_chans': len(bands),
        'model': register_export(tag, path),
        'publication': 'DEO: dual-teacher contrastive distillation (CVPR 2026)',
        'repo': 'dtcd',
        'bands': list(bands),
        'ssl_method': 'deo',
        'license': license,
    }
    members = {tag.upper(): Weights(url=path.as_uri(), transforms=nn.Identity(), meta=meta)}
    return DTCDWeights(f'DTCDWeights_{tag}', members)[tag.upper()]  # type: ignore[call-overload]
