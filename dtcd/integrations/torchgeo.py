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

import torch
from torch import Tensor, nn
from torchvision.models._api import Weights, WeightsEnum

from dtcd.integrations.timm import register_export
from dtcd.models import MultiStemSwin
from dtcd.models.checkpoints import export_config, export_info

__all__ = ['DTCDWeights', 'dtcd_weights']


#: Where the dtcd student sits in the network each TorchGeo task loads the weights into: the timm
#: model itself (classification), or smp's ``tu-`` encoder around timm's features-only wrapper.
PREFIXES = {'classification': 'backbone.', 'segmentation': 'model.model.backbone.'}


class DTCDWeights(WeightsEnum):
    """Weights of dtcd exports; members are made by :func:`dtcd_weights`."""

    def get_state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Tensor]:
        """The export's tensors under the names of the network the task builds."""
        path = unquote(urlparse(self.url).path)
        backbone = MultiStemSwin.from_pretrained(path)
        prefix = PREFIXES[self.meta['task']]
        return {prefix + key: value for key, value in backbone.state_dict().items()}


def dtcd_weights(
    file: str | Path,
    tag: str = 'export',
    stem: str = 'ms',
    dataset: str = 'unknown',
    license: str | None = None,
    task: str = 'classification',
) -> DTCDWeights:
    """A TorchGeo ``WeightsEnum`` member for an exported student (``dtcd export``).

    For ``task='classification'`` (``ClassificationTask(model=meta['model'])``) ``meta['model']``
    is the timm name ``dtcd_swin.<tag>``, which this registers; for ``'segmentation'``
    (``SemanticSegmentationTask(backbone=meta['model'])``, smp's Unet / UPerNet / ...) it is
    smp's ``tu-dtcd_swin.<tag>``. ``meta`` also has TorchGeo's other fields: ``in_chans`` and
    ``bands`` (of ``stem``), ``dataset``, ``publication``, ``repo``,
    ``ssl_method`` and ``license`` (the export's). ``transforms`` standardises the stem's bands
    with the statistics the student was pretrained with, when the export records them.
    """
    if task not in PREFIXES:
        raise ValueError(f'task {task!r}: one of {sorted(PREFIXES)}.')
    path = Path(file).resolve()
    bands = export_config(path)['stems'].get(stem)
    info = export_info(path)
    if bands is None:
        raise ValueError(
            f'{path} has no stem {stem!r}; its stems: {list(export_config(path)["stems"])}.'
        )
    meta = {
        'dataset': dataset,
        'in_chans': len(bands),
        'model': ('tu-' if task == 'segmentation' else '') + register_export(tag, path),
        'task': task,
        'publication': 'DEO: dual-teacher contrastive distillation (CVPR 2026)',
        'repo': 'dtcd',
        'bands': list(bands),
        'ssl_method': 'deo',
        'license': license or info.get('license', 'unspecified'),
    }
    transforms = normalize(bands, info.get('normalization'), path)
    members = {tag.upper(): Weights(url=path.as_uri(), transforms=transforms, meta=meta)}
    return DTCDWeights(f'DTCDWeights_{tag}', members)[tag.upper()]  # type: ignore[call-overload]


def normalize(
    bands: list[str], statistics: dict[str, list[float]] | None, where: Path
) -> nn.Module:
    """Kornia's standardisation of ``bands`` with an export's statistics (identity without)."""
    if statistics is None:
        return nn.Identity()
    lacking = [band for band in bands if band not in statistics]
    if lacking:
        raise ValueError(f'{where}: its normalization has no statistics for bands {lacking}.')
    import kornia.augmentation as K

    mean = torch.tensor([statistics[band][0] for band in bands])
    std = torch.tensor([statistics[band][1] for band in bands])
    return K.Normalize(mean=mean, std=std, keepdim=True)
