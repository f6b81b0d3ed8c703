"""dtcd backbones where EO researchers evaluate models: ``import dtcd.integrations.timm``
registers ``dtcd_swin``, ``dtcd_swin_t`` and ``dtcd_swin_b`` with timm;
:func:`dtcd.integrations.torchgeo.dtcd_weights` makes an export a TorchGeo ``WeightsEnum``."""
