"""dtcd backbones where EO researchers evaluate models: ``timm`` (``import
dtcd.integrations.timm`` registers ``dtcd_swin``, ``dtcd_swin_t``, ``dtcd_swin_b``)."""
