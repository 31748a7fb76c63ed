"""Built-in forward models."""

from .transit import TransitModel

__all__ = ["TransitModel"]
