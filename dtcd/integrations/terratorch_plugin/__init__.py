"""Imported by TerraTorch as ``custom_modules_path``: registers the dtcd backbones."""

import dtcd.integrations.terratorch  # noqa: F401
