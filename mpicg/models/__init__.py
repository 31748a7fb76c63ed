"""Built-in forward models and adapters to external codes (imported lazily)."""

from .batman_adapter import BatmanTransit
from .eclipsing_binary import EclipsingBinary
from .transit import TransitModel

__all__ = ["BatmanTransit", "EclipsingBinary", "TransitModel"]
