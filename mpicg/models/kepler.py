"""Kepler's equation, solved element by element (each time's result its own, bit for bit)."""

from __future__ import annotations

import numpy as np

__all__ = ["solve_kepler"]

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
