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
Each time costs the same, ``O(resolution)``, in and out of eclipse alike, which keeps the
work of MPI ranks balanced. The eclipsed star (the one with ``Z`` behind) loses the flux of
the part of its disc under the other disc: its limb-darkened intensity integrated over
annuli, where the arc of each annulus inside the occulting disc is known in closed form
(``2 theta(r)``, by the law of cosines). The radius range splits at the occultor's edges:

* ``r < k - z`` (only when the occultor covers the centre): whole annuli are covered, and
  that integral is done analytically;
* ``|z - k| < r < min(z + k, 1)``: partly covered annuli, integrated by ``resolution``-point
  Gauss-Legendre quadrature after the change of variable
  ``r = r_a + (r_b - r_a)(1 - cos phi) / 2``, which removes the square-root endpoint
  behaviour of ``theta(r)`` at the occultor's edges and of ``mu(r)`` at the limb, so the
  quadrature converges geometrically instead of as a power of ``resolution``.

(``z`` and ``k`` are the sky separation and the occultor's radius in units of the eclipsed
star's radius.) Every time's flux depends only on that time and the parameters, bit for bit,
the contract mpicg needs to split a light curve over ranks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from numbers import Integral

import numpy as np
from numpy.polynomial.legendre import leggauss

from ..fitting.parameters import Parameter, ParameterizedModel
from ._domains import (
    ECCENTRICITY,
    INCLINATION,
    LIMB_DARKENING_U1,
    LIMB_DARKENING_U2,
    NON_NEGATIVE,
    POSITIVE,
)

__all__ = ["EclipsingBinary", "eclipsed_fraction", "solve_kepler"]

_LD_LAWS = ("linear", "quadratic")
# Times per vectorized slab. The quadrature loops over nodes on arrays of the slab's times, so
# memory is O(slab) whatever the resolution; 4096 float64 (32 KiB) temporaries stay in cache.
_SLAB = 4096
_KEPLER_TOL = 1e-14  # radians; the last Newton step is smaller, so E is good to ~1 ulp
_KEPLER_MAX_ITER = 100  # never reached for e < 1 from Danby's start (about 16 at e = 0.9999)


def solve_kepler(mean_anomaly, ecc: float) -> np.ndarray:
    """Eccentric anomaly E solving Kepler's equation ``E - e sin E = M``.

    Newton's method from Danby's starting value ``E0 = M + 0.85 e sign(sin M)``, which
    converges for every ``M`` and ``0 <= e < 1``. Each element iterates until its own Newton
    step is below 1e-14 rad and is then left alone, so an element's result never depends on
    the other elements of the array (needed for mpicg's per-time contract).

    Parameters
    ----------
    mean_anomaly : array_like
        Mean anomaly M in radians; reduced to [-pi, pi) before solving.
    ecc : float
        Eccentricity, ``0 <= ecc < 1``.

    Returns
    -------
    ndarray
        Eccentric anomaly in radians, in [-pi, pi], same shape as ``mean_anomaly``.

    Raises
    ------
    ValueError
        If ``ecc`` is not in [0, 1).
    """
    ecc = float(ecc)
    if not (0.0 <= ecc < 1.0):
        raise ValueError(f"`ecc` must be in [0, 1); got {ecc!r}")
    m = np.asarray(mean_anomaly, dtype=float)
    shape = m.shape
    # Reduce to [-pi, pi): Danby's start and Newton are best behaved there.
    m = (np.mod(m.ravel() + np.pi, 2 * np.pi) - np.pi)
    e_anom = m + 0.85 * ecc * np.sign(np.sin(m))
    active = np.arange(m.size)
    for _ in range(_KEPLER_MAX_ITER):
        if active.size == 0:
            break
        ea = e_anom[active]
        step = (ea - ecc * np.sin(ea) - m[active]) / (1.0 - ecc * np.cos(ea))
        e_anom[active] = ea - step
        # Only elements still moving iterate again: an element's number of Newton steps
        # depends on that element alone, not on the slowest element of the array.
        active = active[np.abs(step) > _KEPLER_TOL]
    return e_anom.reshape(shape)


def _covered_disc_integral(rho: np.ndarray, u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """``int_0^rho 2 r I(r) dr`` for ``I = 1 - u1 (1 - mu) - u2 (1 - mu)^2``, in closed form.

    With ``mu = sqrt(1 - r^2)`` and ``I = c0 + c1 mu + c2 mu^2`` the integral is
    ``c0 (1 - m^2) + 2/3 c1 (1 - m^3) + 1/2 c2 (1 - m^4)`` with ``m = mu(rho)``; each
    ``1 - m^j`` is written with ``rho^2 = 1 - m^2`` as a factor so small ``rho`` loses no
    digits (and ``rho = 0`` gives exactly 0).
    """
    rho2 = rho * rho
    m = np.sqrt(np.maximum(1.0 - rho2, 0.0))
    c0 = 1.0 - u1 - u2
    c1 = u1 + 2.0 * u2
    c2 = -u2
    return (c0 * rho2
            + (2.0 / 3.0) * c1 * rho2 * (1.0 + m + m * m) / (1.0 + m)
            + 0.5 * c2 * rho2 * (1.0 + m * m))


@lru_cache(maxsize=16)
def _nodes(resolution: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Gauss-Legendre nodes on phi in [0, pi], as ``s = (1 - cos phi) / 2`` and weights ds.

    Cached: ``leggauss`` solves an eigenproblem, O(resolution^3), far more than one slab of
    times costs at high resolution. Tuples, so no caller can alter the cached nodes.
    ``leggauss`` is imported with the module: numpy imports ``numpy.polynomial`` lazily, and
    at a model's first call (inside the first round, on every rank but 0) the other ranks
    would wait for it.
    """
    x, w = leggauss(resolution)
    phi = 0.5 * np.pi * (x + 1.0)
    s = 0.5 * (1.0 - np.cos(phi))
    ds = 0.25 * np.pi * np.sin(phi) * w  # (dr / d phi) / (r_b - r_a) times the phi weight
    return tuple(s.tolist()), tuple(ds.tolist())


def eclipsed_fraction(z, k, u1, u2, resolution: int = 16) -> np.ndarray:
    """Fraction of a limb-darkened star's flux hidden by an opaque disc in front of it.

    Parameters
    ----------
    z : array_like
        Sky-plane distance between the centres, in units of the eclipsed star's radius.
    k : array_like
        Radius of the occulting disc over that of the eclipsed star (> 0).
    u1, u2 : array_like
        Quadratic limb-darkening coefficients of the eclipsed star,
        ``I(mu) / I(1) = 1 - u1 (1 - mu) - u2 (1 - mu)^2`` (``u2 = 0``: linear law).
    resolution : int, optional
        Gauss-Legendre nodes over the partly covered annuli; the cost per element.

    Returns
    -------
    ndarray
        Hidden fraction, 0 (no overlap; exactly 0) to 1 (total eclipse), broadcast shape
        of the inputs.

    Raises
    ------
    ValueError
        If ``resolution`` is not an integer >= 1.

    Notes
    -----
    Each element is computed from that element's inputs alone with elementwise operations
    and a fixed-order sum over the nodes, so it is bitwise the same in any array.
    """
    if not (isinstance(resolution, Integral) and not isinstance(resolution, bool)
            and resolution >= 1):
        raise ValueError(f"`resolution` must be an integer >= 1; got {resolution!r}")
    z, k, u1, u2 = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (z, k, u1, u2)))
    s, ds = _nodes(int(resolution))
    # Annuli r < k - z lie wholly inside the occultor; those in (r_a, r_b) only in part.
    r_a = np.abs(z - k)
    r_b = np.minimum(z + k, 1.0)
    width = np.maximum(r_b - r_a, 0.0)
    z2_minus_k2 = (z - k) * (z + k)
    two_z = 2.0 * z
    partial = np.zeros(z.shape)
    for s_j, ds_j in zip(s, ds, strict=True):  # fixed order: bitwise reproducible sums
        r = r_a + width * s_j
        # Law of cosines: the annulus of radius r is inside the occultor over |angle| < theta.
        # The floor only guards the 0/0 of a zero-width range (whose weight is 0 anyway).
        cos_theta = (r * r + z2_minus_k2) / np.maximum(two_z * r, 1e-300)
        theta = np.arccos(np.clip(cos_theta, -1.0, 1.0))
        one_minus_mu = 1.0 - np.sqrt(np.maximum(1.0 - r * r, 0.0))
        intensity = 1.0 - u1 * one_minus_mu - u2 * one_minus_mu * one_minus_mu
        partial = partial + (2.0 * ds_j) * r * theta * intensity
    full = np.pi * _covered_disc_integral(np.clip(k - z, 0.0, 1.0), u1, u2)
    total = np.pi * (1.0 - u1 / 3.0 - u2 / 6.0)
    hidden = (full + width * partial) / total
    # Exactly 0 without overlap (the sum above is already 0 there; this states it).
    return np.where(z < 1.0 + k, hidden, 0.0)


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
