"""A detached eclipsing binary: two spherical, limb-darkened stars on a Keplerian orbit.

This is mpicg's embedded default model. The stars are spheres (no tides, no reflection, no
beaming, no light travel time), so out of eclipse the normalized flux is exactly 1 and all the
signal is in the eclipses.

Geometry
--------
The orbit is that of the secondary (star 2) relative to the primary (star 1), with semi-major
axis ``a``; radii are in units of ``a``. With true anomaly ``f``, argument of periastron
``omega`` and inclination ``i``, the secondary's position relative to the primary, in the sky
plane (X, Y) and along the line of sight (Z, positive towards the observer), is (Winn 2010,
"Transits and Occultations", eqs. 2-4)::

    r = (1 - e^2) / (1 + e cos f)
    X = -r cos(omega + f)
    Y = -r sin(omega + f) cos i
    Z =  r sin(omega + f) sin i

so the secondary passes in front of the primary (inferior conjunction of the secondary, the
primary eclipse) at ``f = 90 deg - omega``, and behind it at ``f = 270 deg - omega``. These
are the conventions of ``batman``'s planet (its ``t0`` and ``w``), so a dark secondary is a
planetary transit that ``batman`` computes the same way.

Flux
----
The eclipsed star (the one with ``Z`` behind) loses the flux of the part of its disc
under the other disc (:func:`.occultation.eclipsed_fraction`: the same cost for every
time, in and out of eclipse, and every time's flux depends only on that time and the
parameters, bit for bit, the contract mpicg needs to split a light curve over ranks);
the orbit comes from Kepler's equation (:func:`.kepler.solve_kepler`).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np

from ..fitting.parameters import Parameter, ParameterizedModel
from ._domains import (
    ECCENTRICITY,
    INCLINATION,
    LIMB_DARKENING_U1,
    LIMB_DARKENING_U2,
    NON_NEGATIVE,
    POSITIVE,
)
from .kepler import solve_kepler
from .occultation import eclipsed_fraction

__all__ = ["EclipsingBinary"]

_LD_LAWS = ("linear", "quadratic")
# Times per vectorized slab. The quadrature loops over nodes on arrays of the slab's times, so
# memory is O(slab) whatever the resolution; 4096 float64 (32 KiB) temporaries stay in cache.
_SLAB = 4096


@dataclass(frozen=True)
class EclipsingBinary(ParameterizedModel):
    """Normalized flux of two spherical, limb-darkened stars on a Keplerian orbit.

    The parameters ``values`` are, in order:

    ``period``
        orbital period (d; same unit as the times).
    ``t0``
        time of primary mid-eclipse (d), defined as the inferior conjunction of the
        secondary: the time the secondary passes in front of the primary, true anomaly
        ``f = 90 deg - omega``. (For eccentric, inclined orbits the minimum sky separation
        can fall slightly off conjunction; ``t0`` is the conjunction, like ``batman``'s.)
    ``ecc``
        orbital eccentricity, ``0 <= ecc < 1``.
    ``omega``
        argument of periastron (deg) of the secondary's orbit relative to the primary,
        measured from the ascending node in the direction of motion, with the observer on
        the +Z side (``batman``'s ``w`` for the planet). The primary's own argument of
        periastron about the barycentre is ``omega + 180 deg``.
    ``incl``
        orbital inclination (deg; 90 is edge-on).
    ``r1``, ``r2``
        radii of the primary and the secondary over the semi-major axis (> 0).
    ``sbratio``
        surface-brightness ratio secondary / primary, of the *disc-averaged* surface
        brightness (>= 0): the stars' luminosity ratio is ``sbratio * (r2 / r1)**2``
        whatever the limb darkening. The ratio of the central intensities is
        ``sbratio * (1 - ld1_u1/3 - ld1_u2/6) / (1 - ld2_u1/3 - ld2_u2/6)``.
        0 makes a dark secondary: a planetary transit.
    ``ld1_u1``, ``ld1_u2``, ``ld2_u1``, ``ld2_u2``
        limb-darkening coefficients of star 1 and star 2:
        ``I(mu) / I(1) = 1 - u1 (1 - mu) - u2 (1 - mu)^2``; ``u2`` is ignored for the
        linear law.

    The flux is the visible flux of star 1 plus that of star 2 over their sum out of eclipse,
    so it is exactly 1 out of eclipse. The star behind (the sign of ``Z``) is the one
    eclipsed.

    Parameters
    ----------
    ld_law : {'quadratic', 'linear'}
        Limb-darkening law of both stars.
    resolution : int
        Gauss-Legendre nodes over the partly eclipsed annuli of the eclipsed star; the cost
        per time is proportional to it. The default, 16, agrees with analytic transits
        (Mandel & Agol, via ``batman``) to ~1e-9 in relative flux for planet-sized
        occultors and ~1e-7 for equal stars; 8 is ~1e-6, 32 is near round-off. Larger
        values only cost more. The cost is the same in and out of eclipse: about 0.3 ms per
        1000 times for the orbit plus 0.015 ms per 1000 times per node (0.55 ms per 1000
        times at 16, 16 ms at 1024, on one 2020s x86 core).

    Raises
    ------
    ValueError
        On a bad ``ld_law`` or ``resolution`` (at construction), and when called with the
        wrong number of values or with ``period <= 0``, ``ecc`` outside [0, 1),
        ``r1 <= 0``, ``r2 <= 0`` or ``sbratio < 0``, naming the argument.
    """

    ld_law: str = "quadratic"
    resolution: int = 16

    parameters = (
        Parameter("period", 3.0, "d", "orbital period", POSITIVE),
        Parameter("t0", 0.0, "d", "time of primary mid-eclipse (secondary in front)"),
        Parameter("ecc", 0.0, "", "orbital eccentricity", ECCENTRICITY),
        Parameter("omega", 90.0, "deg", "argument of periastron of the secondary's orbit"),
        Parameter("incl", 89.0, "deg", "orbital inclination", INCLINATION),
        Parameter("r1", 0.1, "", "primary radius / semi-major axis", POSITIVE),
        Parameter("r2", 0.08, "", "secondary radius / semi-major axis", POSITIVE),
        Parameter("sbratio", 0.5, "", "disc-averaged surface brightness, secondary / primary",
                  NON_NEGATIVE),
        Parameter("ld1_u1", 0.4, "", "primary limb darkening, linear coefficient",
                  LIMB_DARKENING_U1),
        Parameter("ld1_u2", 0.25, "", "primary limb darkening, quadratic coefficient",
                  LIMB_DARKENING_U2),
        Parameter("ld2_u1", 0.4, "", "secondary limb darkening, linear coefficient",
                  LIMB_DARKENING_U1),
        Parameter("ld2_u2", 0.25, "", "secondary limb darkening, quadratic coefficient",
                  LIMB_DARKENING_U2),
    )

    period_parameter = "period"
    epoch_parameter = "t0"

    def __post_init__(self):
        if self.ld_law not in _LD_LAWS:
            raise ValueError(f"`ld_law` must be one of {list(_LD_LAWS)}; got {self.ld_law!r}")
        if not (isinstance(self.resolution, Integral) and not isinstance(self.resolution, bool)
                and self.resolution >= 1):
            raise ValueError(f"`resolution` must be an integer >= 1; got {self.resolution!r}")

    def _unpack(self, values) -> dict[str, float]:
        values = self.check_values(values)
        p = dict(zip(self.parameter_names, (float(v) for v in values), strict=True))
        checks = (("period", p["period"] > 0, "> 0"), ("ecc", 0 <= p["ecc"] < 1, "in [0, 1)"),
                  ("r1", p["r1"] > 0, "> 0"), ("r2", p["r2"] > 0, "> 0"),
                  ("sbratio", p["sbratio"] >= 0, ">= 0"))
        for name, ok, what in checks:
            if not ok:
                raise ValueError(f"`{name}` must be {what}; got {p[name]!r}")
        if self.ld_law == "linear":
            p["ld1_u2"] = p["ld2_u2"] = 0.0
        return p

    def sky_positions(self, values, times) -> tuple[np.ndarray, np.ndarray]:
        """Sky separation and line-of-sight coordinate of the secondary, in units of ``a``.

        Parameters
        ----------
        values : array_like
            The full parameter vector, in the order of :attr:`parameters`.
        times : array_like
            Times (d).

        Returns
        -------
        separation : ndarray
            Projected distance between the centres, ``sqrt(X^2 + Y^2)``.
        los : ndarray
            ``Z``: positive when the secondary is in front of the primary.
        """
        p = self._unpack(values)
        times = np.asarray(times, dtype=float)
        ecc = p["ecc"]
        w = np.radians(p["omega"])
        inc = np.radians(p["incl"])
        root = np.sqrt((1.0 - ecc) * (1.0 + ecc))
        # Mean anomaly at t0, from the true anomaly of conjunction f = pi/2 - omega.
        f0 = 0.5 * np.pi - w
        e0 = 2.0 * np.arctan2(np.sqrt(1.0 - ecc) * np.sin(0.5 * f0),
                              np.sqrt(1.0 + ecc) * np.cos(0.5 * f0))
        m0 = e0 - ecc * np.sin(e0)
        # Phase first, as a fraction of an orbit: keeps full precision for large times (JD).
        phase = np.mod((times - p["t0"]) / p["period"], 1.0)
        e_anom = solve_kepler(2.0 * np.pi * phase + m0, ecc)
        # r cos f and r sin f straight from E (no division by 1 - e cos E needed).
        x_orb = np.cos(e_anom) - ecc
        y_orb = root * np.sin(e_anom)
        cos_w, sin_w = np.cos(w), np.sin(w)
        r_cos = cos_w * x_orb - sin_w * y_orb  # r cos(omega + f) = -X
        r_sin = sin_w * x_orb + cos_w * y_orb  # r sin(omega + f)
        separation = np.sqrt(r_cos * r_cos + (r_sin * np.cos(inc)) ** 2)
        return separation, r_sin * np.sin(inc)

    def __call__(self, values, times) -> np.ndarray:
        """Normalized flux (1 out of eclipse) at ``times`` for the parameters ``values``.

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
        _, weight, hidden = self._eclipsed_light(p, separation, los)
        return (1.0 - weight * hidden).reshape(shape)

    def _eclipsed_light(self, p: dict[str, float], separation: np.ndarray,
                        los: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Which star is behind, its share of the light, and the fraction of it hidden.

        Returns ``primary_hidden`` (the secondary in front), the eclipsed star's
        luminosity over the total, and the hidden fraction of its flux, per time.
        """
        lum1 = p["r1"] * p["r1"]  # pi * R^2 * (disc-averaged surface brightness), pi dropped
        lum2 = p["sbratio"] * p["r2"] * p["r2"]
        total = lum1 + lum2
        primary_hidden = los > 0  # the secondary in front: the primary is eclipsed
        radius = np.where(primary_hidden, p["r1"], p["r2"])
        occultor = np.where(primary_hidden, p["r2"], p["r1"])
        u1 = np.where(primary_hidden, p["ld1_u1"], p["ld2_u1"])
        u2 = np.where(primary_hidden, p["ld1_u2"], p["ld2_u2"])
        weight = np.where(primary_hidden, lum1, lum2) / total
        z = separation / radius
        k = occultor / radius
        hidden = np.empty(separation.shape)
        for lo in range(0, hidden.size, _SLAB):
            sl = slice(lo, lo + _SLAB)
            hidden[sl] = eclipsed_fraction(z[sl], k[sl], u1[sl], u2[sl], self.resolution)
        return primary_hidden, weight, hidden
