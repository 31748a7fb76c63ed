"""Proximity effects of a close eclipsing binary: ellipsoidal variation and reflection.

In a close binary each star is stretched towards the other and heated on the side facing
it, so the light varies all around the orbit, not only in eclipse. :class:`ProximityBinary`
adds a first-order, documented approximation of both effects to the spherical stars of
:class:`~.eclipsing_binary.EclipsingBinary` (the eclipses themselves are still those of two
spheres); it is not a Roche-geometry model such as ellc, PHOEBE or JKTEBOP.

Ellipsoidal variation
    A star elongated along the line of centres shows its largest projected area at
    quadrature and its smallest at conjunction: to first order in the elongation the
    projected area goes as ``1 + e (1 - (n.z)^2)`` for the unit vector ``n`` between the
    centres and ``z`` towards the observer (Morris 1985, ApJ 295, 143: the cos 2 phi term,
    of amplitude ~ q (R/d)^3 sin^2 i). Both stars' light is multiplied by

        g = 1 - A (2 (Z/d)^2 - 1) (a/d)^3

    where ``A`` is ``ellipsoidal``, ``Z`` the line-of-sight separation and ``d`` the
    separation (``d = a`` on a circular orbit): ``1 - A cos(4 pi phase)`` seen edge-on.
Reflection
    The hemisphere of each star that faces the other reflects (and re-emits) part of the
    light it receives. Seen at phase angle ``alpha`` (between the directions to the other
    star and to the observer), a Lambert sphere shows the fraction
    ``Phi(alpha) = (sin alpha + (pi - alpha) cos alpha) / pi`` of its light at full phase
    (Russell 1916, ApJ 43, 173). Star ``k`` adds ``R_k Phi(alpha_k) (a/d)^2`` of the system's
    light (``reflection1``, ``reflection2``), hidden in eclipse in the same proportion as the
    star's own light. ``cos alpha_2 = -Z/d``: the secondary is full at secondary eclipse.

With ``A = R_1 = R_2 = 0`` the flux is :class:`EclipsingBinary`'s. The flux stays normalised
to the stars' light without these effects, so out of eclipse it varies around 1 (a
baseline's level absorbs the mean).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..fitting.parameters import Parameter
from ._domains import NON_NEGATIVE
from .eclipsing_binary import EclipsingBinary

__all__ = ["ProximityBinary", "eclipsing_binary", "lambert_phase"]


def lambert_phase(cos_alpha) -> np.ndarray:
    """The light of a Lambert sphere at phase angle alpha over its light at full phase.

    Parameters
    ----------
    cos_alpha : array_like
        Cosine of the phase angle (1: full, -1: new).

    Returns
    -------
    ndarray
        ``(sin alpha + (pi - alpha) cos alpha) / pi``, from 1 (full) to 0 (new).
    """
    c = np.clip(np.asarray(cos_alpha, dtype=float), -1.0, 1.0)
    alpha = np.arccos(c)
    return (np.sqrt((1.0 - c) * (1.0 + c)) + (np.pi - alpha) * c) / np.pi


_PROXIMITY = (
    Parameter("ellipsoidal", 0.0, "", "ellipsoidal semi-amplitude (edge-on)", NON_NEGATIVE),
    Parameter("reflection1", 0.0, "", "light reflected by the primary at full phase",
              NON_NEGATIVE),
    Parameter("reflection2", 0.0, "", "light reflected by the secondary at full phase",
              NON_NEGATIVE),
)
_LIGHT_RATIO = Parameter("light_ratio", 0.32, "",
                         "light ratio L2/L1 = sbratio (r2/r1)^2, in place of sbratio",
                         NON_NEGATIVE)


@dataclass(frozen=True)
class ProximityBinary(EclipsingBinary):
    """:class:`EclipsingBinary` with ellipsoidal variation and reflection (see the module).

    Its parameters are :class:`EclipsingBinary`'s, then:

    ``ellipsoidal``
        semi-amplitude of the ellipsoidal variation seen edge-on (relative flux).
    ``reflection1``, ``reflection2``
        light reflected by the primary and by the secondary at full phase, as a fraction of
        the two stars' light.

    Parameters
    ----------
    ld_law, resolution
        As for :class:`EclipsingBinary`.
    light_ratio : bool
        Take the light ratio ``L2/L1 = sbratio (r2/r1)^2`` as a parameter (``light_ratio``,
        in the place of ``sbratio``), so that a spectroscopic light ratio can be a prior:
        in partial eclipses the inclination and the ratio of the radii are nearly
        degenerate, and a light ratio breaks that (as ellc's example of HD 23642 does).
    """

    light_ratio: bool = False

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        """The binary's parameters, then the proximity effects'.

        With :attr:`light_ratio`, ``light_ratio`` stands in ``sbratio``'s place.
        """
        base = EclipsingBinary.parameters
        if self.light_ratio:
            base = tuple(_LIGHT_RATIO if p.name == "sbratio" else p for p in base)
        return (*base, *_PROXIMITY)

    def _unpack(self, values) -> dict[str, float]:
        if not self.light_ratio:
            return super()._unpack(values)
        values = self.check_values(values).copy()
        names = self.parameter_names
        r1, r2 = values[names.index("r1")], values[names.index("r2")]
        if not (r1 > 0 and r2 > 0):
            raise ValueError(f"`r1` and `r2` must be > 0; got {r1!r} and {r2!r}")
        where = names.index("light_ratio")  # sbratio's place
        values[where] = values[where] * (r1 / r2) ** 2
        return replace(self, light_ratio=False)._unpack(values)

    def __call__(self, values, times) -> np.ndarray:
        """Flux at ``times``: the stars' light, eclipsed, with the proximity effects.

        Parameters
        ----------
        values : array_like
            The full parameter vector, in the order of :attr:`parameters`.
        times : array_like
            Times (d), any chunk of the light curve.

        Returns
        -------
        ndarray
            Flux, the same shape as ``times``.
        """
        p = self._unpack(values)
        times = np.asarray(times, dtype=float)
        shape = times.shape
        separation, los = self.sky_positions(values, times.ravel())
        primary_hidden, weight, hidden = self._eclipsed_light(p, separation, los)
        distance = np.hypot(separation, los)  # in units of a: 1 on a circular orbit
        along = los / distance  # Z / d
        inverse = 1.0 / distance
        ellipsoidal = 1.0 - p["ellipsoidal"] * (2.0 * along * along - 1.0) * inverse ** 3
        hidden1 = np.where(primary_hidden, hidden, 0.0)
        hidden2 = np.where(primary_hidden, 0.0, hidden)
        reflected = (p["reflection1"] * lambert_phase(along) * (1.0 - hidden1)
                     + p["reflection2"] * lambert_phase(-along) * (1.0 - hidden2))
        flux = ellipsoidal * (1.0 - weight * hidden) + reflected * inverse * inverse
        return flux.reshape(shape)


def eclipsing_binary(proximity: bool = False, **options) -> EclipsingBinary:
    """The built-in eclipsing binary of a job file: with proximity effects if asked.

    Parameters
    ----------
    proximity : bool
        :class:`ProximityBinary` (ellipsoidal variation and reflection) instead of
        :class:`EclipsingBinary`.
    **options
        ``ld_law``, ``resolution``; with ``proximity``, ``light_ratio`` too.

    Returns
    -------
    EclipsingBinary
        The model.
    """
    if not isinstance(proximity, bool):
        raise ValueError(f"`proximity` must be true or false; got {proximity!r}")
    return (ProximityBinary if proximity else EclipsingBinary)(**options)
