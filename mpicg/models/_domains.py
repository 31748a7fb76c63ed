"""The domains the built-in models share (see :class:`mpicg.fitting.domain.Domain`)."""

from __future__ import annotations

import math

from ..fitting.domain import Domain

__all__ = ["ECCENTRICITY", "INCLINATION", "LIMB_DARKENING_U1", "LIMB_DARKENING_U2",
           "NON_NEGATIVE", "POSITIVE", "SEMI_MAJOR_AXIS"]

#: Periods, radii: > 0.
POSITIVE = Domain(0.0, math.inf, closed="neither")
#: Surface-brightness ratios: >= 0.
NON_NEGATIVE = Domain(0.0, math.inf, closed="left")
#: Eccentricity: 0 <= e < 1.
ECCENTRICITY = Domain(0.0, 1.0, closed="left")
#: Inclination in degrees, 0 <= i <= 90 (i and 180 - i give the same light curve).
INCLINATION = Domain(0.0, 90.0)
#: Semi-major axis over the star's radius: the orbit lies outside the star, a/R > 1.
SEMI_MAJOR_AXIS = Domain(1.0, math.inf, closed="neither")
#: Quadratic limb darkening, I(mu) = 1 - u1 (1 - mu) - u2 (1 - mu)^2: an intensity that is
#: positive and falls towards the limb needs u1 >= 0, u1 + u2 <= 1, u1 + 2 u2 >= 0
#: (Kipping 2013, MNRAS 435, 2152); per coefficient, the box around that triangle.
LIMB_DARKENING_U1 = Domain(0.0, 2.0)
LIMB_DARKENING_U2 = Domain(-1.0, 1.0)
