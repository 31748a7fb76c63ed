"""The flux a limb-darkened star loses behind an opaque disc: an eclipse, or a transit.

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

from functools import lru_cache
from numbers import Integral

import numpy as np
from numpy.polynomial.legendre import leggauss

__all__ = ["eclipsed_fraction"]


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
