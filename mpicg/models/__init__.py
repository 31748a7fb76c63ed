"""Built-in forward models, adapters to external codes (imported lazily), and wrappers.

The wrappers work on any model: :class:`Integrated` averages it over each exposure
(supersampling), :class:`Baseline` multiplies it by a fittable level (and trend) per
:class:`Segments` of the light curve.
"""

from .baseline import Baseline
from .batman_adapter import BatmanTransit
from .eclipsing_binary import EclipsingBinary
from .exposure import Integrated
from .proximity import ProximityBinary
from .segments import Segments
from .transit import TransitModel

__all__ = ["Baseline", "BatmanTransit", "EclipsingBinary", "Integrated", "ProximityBinary",
           "Segments", "TransitModel"]
