"""The bracketing and zoom line search of Nocedal & Wright, the fallback of Moré–Thuente.

Written from J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Algorithm 3.5
(bracketing: double the step until the strong Wolfe conditions hold or a minimizer is
bracketed) and Algorithm 3.6 (zoom: shrink the bracket by safeguarded cubic or quadratic
interpolation). Unlike Moré–Thuente it asks for phi and phi' separately: phi alone decides
whether a trial is rejected, so a rejected trial costs one objective value and no gradient.

Constants follow the behaviour users compare against (scipy's ``line_search_wolfe2``):
at most 10 bracketing and 10 zoom iterations, and interpolated steps are rejected when they
fall within 20 % (cubic) or 10 % (quadratic) of an end of the bracket.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["ZoomResult", "cubic_minimizer", "quadratic_minimizer", "zoom_search"]

CUBIC_SAFEGUARD = 0.2
QUADRATIC_SAFEGUARD = 0.1
MAX_ZOOM = 10


def cubic_minimizer(a, fa, fpa, b, fb, c, fc):
    """Minimizer of the cubic through (a, fa), (b, fb), (c, fc) with slope fpa at a.

    Returns None when the cubic has no finite minimizer (or the arithmetic fails).
    """
    a, fa, fpa, b, fb, c, fc = (np.float64(v) for v in (a, fa, fpa, b, fb, c, fc))
    with np.errstate(divide="raise", over="raise", invalid="raise"):
        try:
            db = b - a
            dc = c - a
            denom = (db * dc) ** 2 * (db - dc)
            # The cubic and quadratic coefficients of
            # f(x) = A (x-a)^3 + B (x-a)^2 + fpa (x-a) + fa, through (b, fb) and (c, fc).
            # A 2x2 product with np.dot, as scipy computes it: its rounding differs from the
            # scalar expression by an ulp, and the comparison with scipy is bit for bit.
            inverse = np.array([[dc**2, -(db**2)], [-(dc**3), db**3]])
            coeff_a, coeff_b = np.dot(inverse, np.array([fb - fa - fpa * db,
                                                         fc - fa - fpa * dc]))
            coeff_a /= denom
            coeff_b /= denom
            radical = coeff_b * coeff_b - 3 * coeff_a * fpa
            xmin = a + (-coeff_b + np.sqrt(radical)) / (3 * coeff_a)
        except ArithmeticError:
            return None
    if not np.isfinite(xmin):
        return None
    return xmin


def quadratic_minimizer(a, fa, fpa, b, fb):
    """Minimizer of the parabola through (a, fa), (b, fb) with slope fpa at a, or None."""
    a, fa, fpa, b, fb = (np.float64(v) for v in (a, fa, fpa, b, fb))
    with np.errstate(divide="raise", over="raise", invalid="raise"):
        try:
            db = b - a * 1.0
            curvature = (fb - fa - fpa * db) / (db * db)
            xmin = a - fpa / (2.0 * curvature)
        except ArithmeticError:
            return None
    if not np.isfinite(xmin):
        return None
    return xmin


@dataclass(frozen=True)
class ZoomResult:
    """What the bracketing/zoom search ended with.

    Attributes
    ----------
    step : float or None
        The accepted step, or None when none was found.
    phi : float or None
        phi at the accepted step.
    derphi : float or None
        phi' at the accepted step; None when the bracketing phase ran out of iterations
        and returned its last step without a derivative.
    """

    step: float | None
    phi: float | None
    derphi: float | None


def _zoom(a_lo, a_hi, phi_lo, phi_hi, derphi_lo, phi, derphi, phi0, derphi0, c1, c2,
          accept) -> ZoomResult:
    """Algorithm 3.6: shrink [a_lo, a_hi] until a trial satisfies the strong Wolfe conditions.

    ``a_lo`` is always the end with the lowest phi that satisfies sufficient decrease.
    """
    i = 0
    phi_rec, a_rec = phi0, 0  # the previous a_hi, a third point for the cubic
    while True:
        dalpha = a_hi - a_lo
        lo, hi = (a_hi, a_lo) if dalpha < 0 else (a_lo, a_hi)
        a_j = None
        if i > 0:
            cchk = CUBIC_SAFEGUARD * dalpha
            a_j = cubic_minimizer(a_lo, phi_lo, derphi_lo, a_hi, phi_hi, a_rec, phi_rec)
        if i == 0 or a_j is None or a_j > hi - cchk or a_j < lo + cchk:
            qchk = QUADRATIC_SAFEGUARD * dalpha
            a_j = quadratic_minimizer(a_lo, phi_lo, derphi_lo, a_hi, phi_hi)
            if a_j is None or a_j > hi - qchk or a_j < lo + qchk:
                a_j = a_lo + 0.5 * dalpha  # bisection

        phi_aj = phi(a_j)
        if phi_aj > phi0 + c1 * a_j * derphi0 or phi_aj >= phi_lo:
            phi_rec, a_rec = phi_hi, a_hi
            a_hi, phi_hi = a_j, phi_aj
        else:
            derphi_aj = derphi(a_j)
            if abs(derphi_aj) <= -c2 * derphi0 and accept(a_j, phi_aj):
                return ZoomResult(a_j, phi_aj, derphi_aj)
            if derphi_aj * (a_hi - a_lo) >= 0:
                phi_rec, a_rec = phi_hi, a_hi
                a_hi, phi_hi = a_lo, phi_lo
            else:
                phi_rec, a_rec = phi_lo, a_lo
            a_lo, phi_lo, derphi_lo = a_j, phi_aj, derphi_aj
        i += 1
        if i > MAX_ZOOM:
            return ZoomResult(None, None, None)


def zoom_search(
    phi: Callable[[float], float],
    derphi: Callable[[float], float],
    phi0: float,
    alpha1: float,
    derphi0: float,
    c1: float,
    c2: float,
    amax: float | None = None,
    accept: Callable[[float, float], bool] | None = None,
    maxiter: int = 10,
) -> ZoomResult:
    """Search for a strong-Wolfe step by bracketing and zoom (Nocedal & Wright 3.5/3.6).

    Parameters
    ----------
    phi, derphi : callable
        phi(alpha) and phi'(alpha) along the search direction.
    phi0 : float
        phi(0).
    alpha1 : float
        The first trial step (already clipped to ``amax``).
    derphi0 : float
        phi'(0).
    c1, c2 : float
        Sufficient-decrease and curvature constants, ``0 < c1 < c2 < 1``.
    amax : float, optional
        Largest step allowed.
    accept : callable, optional
        ``accept(alpha, phi_alpha) -> bool``, an extra condition a step must pass besides
        the strong Wolfe conditions (CG's sufficient-descent check).
    maxiter : int, optional
        Number of bracketing iterations.

    Returns
    -------
    ZoomResult
        The accepted step, or ``step=None`` when none was found.
    """
    if accept is None:
        def accept(alpha, phi_alpha):
            return True

    alpha0 = 0
    phi_a1 = phi(alpha1)
    phi_a0, derphi_a0 = phi0, derphi0
    for i in range(maxiter):
        if alpha1 == 0 or (amax is not None and alpha0 > amax):
            # A zero step: the increment slipped below rounding; or no step <= amax.
            return ZoomResult(None, phi0, None)
        if phi_a1 > phi0 + c1 * alpha1 * derphi0 or (phi_a1 >= phi_a0 and i > 0):
            return _zoom(alpha0, alpha1, phi_a0, phi_a1, derphi_a0, phi, derphi,
                         phi0, derphi0, c1, c2, accept)
        derphi_a1 = derphi(alpha1)
        if abs(derphi_a1) <= -c2 * derphi0 and accept(alpha1, phi_a1):
            return ZoomResult(alpha1, phi_a1, derphi_a1)
        if derphi_a1 >= 0:
            return _zoom(alpha1, alpha0, phi_a1, phi_a0, derphi_a1, phi, derphi,
                         phi0, derphi0, c1, c2, accept)
        alpha2 = 2 * alpha1
        if amax is not None:
            alpha2 = min(alpha2, amax)
        alpha0, alpha1 = alpha1, alpha2
        phi_a0, derphi_a0 = phi_a1, derphi_a1
        phi_a1 = phi(alpha1)
    # Out of bracketing iterations: the last step, without a derivative there.
    return ZoomResult(alpha1, phi_a1, None)
