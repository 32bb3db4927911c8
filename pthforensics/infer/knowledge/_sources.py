"""Prefixes of the ``source`` strings the knowledge tables share."""

from __future__ import annotations

__all__ = ["TIMM_LAYERS", "TORCHVISION_MODELS"]

TORCHVISION_MODELS = "torchvision: models/"
TIMM_LAYERS = "timm: layers/"
