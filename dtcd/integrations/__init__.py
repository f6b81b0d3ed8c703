"""dtcd backbones where EO researchers evaluate models: ``import dtcd.integrations.timm``
registers ``dtcd_swin``, ``dtcd_swin_t`` and ``dtcd_swin_b`` with timm, and
``import dtcd.integrations.terratorch`` with TerraTorch (:data:`TERRATORCH_PLUGIN` is the folder
TerraTorch's ``custom_modules_path`` imports to the same effect);
:func:`dtcd.integrations.torchgeo.dtcd_weights` makes an export a TorchGeo ``WeightsEnum``."""

from pathlib import Path

#: A folder for TerraTorch's ``custom_modules_path`` (or ``TERRATORCH_CUSTOM_MODULE_PATH``):
#: importing it registers the dtcd backbones.
TERRATORCH_PLUGIN = Path(__file__).parent / 'terratorch_plugin'
