"""Second derivatives by finite differences, as batches of points.

Like a gradient (:mod:`.finite_differences`), every second-derivative estimate here is one
batch: the points are built up front, an evaluator computes them all at once (on every rank,
under MPI), and the result is assembled from the returned values. Two estimates:

* the diagonal curvature ``d2f/dx_i^2`` from three points per parameter (2n + 1 in all):
  the central second difference ``(f(x + h e_i) - 2 f(x) + f(x - h e_i)) / h^2``, or, where
  one side is not allowed (a parameter at the edge of its domain), the one-sided
  ``(f(x) - 2 f(x + h e_i) + f(x + 2 h e_i)) / h^2``;
* the full Hessian from central differences (Abramowitz & Stegun 1964, section 25.3): the
  diagonal as above, and each off-diagonal element from the four points
  ``x +- h_i e_i +- h_j e_j``,
  ``(f(++) - f(+-) - f(-+) + f(--)) / (4 h_i h_j)``; 2n^2 + 1 points in all. Both are
  exact for a quadratic ``f`` and have errors of order ``h^2`` otherwise; the same batch
  gives the central gradient ``(f(x + h e_i) - f(x - h e_i)) / (2 h_i)``.

The divisors are the steps as the arithmetic made them (``(x + h) - x``), as in
:mod:`.finite_differences`. Pure numpy: nothing here knows who computes the values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Hessian", "curvature_from_values", "curvature_points", "hessian_from_values",
           "hessian_points", "invert_hessian"]


def _steps_taken(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """The steps as the floating-point arithmetic made them."""
    return (x + h) - x


def curvature_points(x: np.ndarray, h: np.ndarray, side: np.ndarray | None = None
                     ) -> np.ndarray:
    """The points of the diagonal curvature at ``x``: ``x`` first, then two per parameter.

    Parameters
    ----------
    x : ndarray, shape (n,)
        Where.
    h : ndarray, shape (n,)
        The step of each parameter (> 0).
    side : ndarray of int, shape (n,), optional
        0 for central differences (``x - h e_i``, ``x + h e_i``), +1 or -1 for one-sided
        ones towards that side (``x +- h e_i``, ``x +- 2 h e_i``). Default: all central.

    Returns
    -------
    ndarray, shape (2n + 1, n)
        The batch.
    """
    n = x.size
    side = np.zeros(n, dtype=int) if side is None else np.asarray(side, dtype=int)
    points = np.repeat(x[np.newaxis, :], 2 * n + 1, axis=0)
    for i in range(n):
        if side[i] == 0:
            points[1 + 2 * i, i] = x[i] - h[i]
            points[2 + 2 * i, i] = x[i] + h[i]
        else:
            points[1 + 2 * i, i] = x[i] + side[i] * h[i]
            points[2 + 2 * i, i] = x[i] + 2 * side[i] * h[i]
    return points


def curvature_from_values(x: np.ndarray, h: np.ndarray, values: np.ndarray,
                          side: np.ndarray | None = None) -> np.ndarray:
    """The diagonal curvature ``d2f/dx_i^2`` from the values at :func:`curvature_points`.

    Parameters
    ----------
    x, h, side
        As given to :func:`curvature_points`.
    values : ndarray, shape (2n + 1,)
        ``f`` at those points, in their order.

    Returns
    -------
    ndarray, shape (n,)
        One curvature per parameter; ``nan`` where a value was not finite.
    """
    n = x.size
    side = np.zeros(n, dtype=int) if side is None else np.asarray(side, dtype=int)
    f0, first, second = values[0], values[1::2], values[2::2]
    taken = np.abs(np.where(side == 0, _steps_taken(x, h),
                            _steps_taken(x, side * h)))
    with np.errstate(invalid="ignore", over="ignore"):
        central = (first - 2 * f0 + second) / taken**2
        one_sided = (f0 - 2 * first + second) / taken**2
        curvature = np.where(side == 0, central, one_sided)
    return np.where(np.isfinite(curvature), curvature, np.nan)


def hessian_points(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """The points of the central-difference Hessian at ``x``.

    ``x`` first; then ``x - h_i e_i`` and ``x + h_i e_i`` for each ``i``; then, for each
    pair ``i < j``, ``x + (a h_i e_i) + (b h_j e_j)`` for ``(a, b)`` = (+, +), (+, -),
    (-, +), (-, -).

    Parameters
    ----------
    x : ndarray, shape (n,)
        Where.
    h : ndarray, shape (n,)
        The step of each parameter (> 0).

    Returns
    -------
    ndarray, shape (2 n^2 + 1, n)
        The batch.
    """
    n = x.size
    rows = [x.copy()]
    for i in range(n):
        for sign in (-1.0, 1.0):
            p = x.copy()
            p[i] = x[i] + sign * h[i]
            rows.append(p)
    for i in range(n):
        for j in range(i + 1, n):
            for a, b in ((1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)):
                p = x.copy()
                p[i] = x[i] + a * h[i]
                p[j] = x[j] + b * h[j]
                rows.append(p)
    return np.array(rows)


@dataclass(frozen=True)
class Hessian:
    """A finite-difference Hessian and the central gradient from the same points.

    Attributes
    ----------
    matrix : ndarray, shape (n, n)
        The Hessian (symmetric by construction).
    gradient : ndarray, shape (n,)
        Central differences ``(f(x + h e_i) - f(x - h e_i)) / (2 h_i)``.
    steps : ndarray, shape (n,)
        The steps used.
    value : float
        ``f(x)``.
    """

    matrix: np.ndarray
    gradient: np.ndarray
    steps: np.ndarray
    value: float


def hessian_from_values(x: np.ndarray, h: np.ndarray, values: np.ndarray) -> Hessian:
    """Assemble the Hessian from the values at :func:`hessian_points`.

    Parameters
    ----------
    x, h
        As given to :func:`hessian_points`.
    values : ndarray, shape (2 n^2 + 1,)
        ``f`` at those points, in their order.

    Returns
    -------
    Hessian
        The matrix (``nan`` entries where a value was not finite) and the central gradient.
    """
    n = x.size
    f0 = float(values[0])
    lower, upper = values[1:2 * n + 1:2], values[2:2 * n + 1:2]
    plus = _steps_taken(x, h)
    minus = x - (x - h)
    H = np.empty((n, n))
    with np.errstate(invalid="ignore", over="ignore"):
        # The second difference over the two half-steps as the arithmetic made them.
        H[np.arange(n), np.arange(n)] = (2 * ((upper - f0) / plus - (f0 - lower) / minus)
                                         / (plus + minus))
        gradient = (upper - lower) / (plus + minus)
        k = 2 * n + 1
        for i in range(n):
            for j in range(i + 1, n):
                pp, pm, mp, mm = values[k:k + 4]
                k += 4
                H[i, j] = H[j, i] = ((pp - pm - mp + mm)
                                     / ((plus[i] + minus[i]) * (plus[j] + minus[j])))
    H = np.where(np.isfinite(H), H, np.nan)
    return Hessian(matrix=H, gradient=gradient, steps=np.asarray(h, dtype=float).copy(),
                   value=f0)


def invert_hessian(matrix: np.ndarray) -> np.ndarray | None:
    """The inverse of a symmetric positive-definite matrix, or None when it is not one.

    The test is a Cholesky factorisation (which exists exactly for positive-definite
    matrices), made on the matrix equilibrated by its diagonal so that parameters of very
    different units do not spoil it; the inverse comes from the same factor.

    Parameters
    ----------
    matrix : ndarray, shape (n, n)
        A Hessian.

    Returns
    -------
    ndarray, shape (n, n) or None
        The inverse (symmetric), or None if the matrix has a non-finite entry, a
        non-positive diagonal element or is otherwise not positive definite.
    """
    H = np.asarray(matrix, dtype=float)
    if not np.all(np.isfinite(H)):
        return None
    d = np.diag(H)
    if np.any(d <= 0):
        return None
    scale = 1.0 / np.sqrt(d)
    equilibrated = H * scale[:, np.newaxis] * scale[np.newaxis, :]
    try:
        factor = np.linalg.cholesky(equilibrated)
    except np.linalg.LinAlgError:
        return None
    inverse_factor = np.linalg.inv(factor)
    inverse = inverse_factor.T @ inverse_factor
    inverse = inverse * scale[:, np.newaxis] * scale[np.newaxis, :]
    return 0.5 * (inverse + inverse.T)
