"""Uncertainties at the optimum: the covariance from the Hessian of ``-ln p``.

Near its minimum ``-ln p`` is about quadratic, ``1/2 (x - x*)^T H (x - x*)``, and the
posterior about Gaussian with covariance ``H^-1`` (the Laplace approximation; with a plain
chi-square and a model linear in ``x``, ``H = X^T W X`` and ``H^-1`` is exactly the
least-squares covariance). ``H`` comes from central second differences
(:mod:`mpicg.optimize.hessian`) in variables scaled by about one σ, with steps of a tenth
of a σ (a whole σ for a noisy model, far above its jitter): all 2n^2 + 1 points in one
batch, shared over the ranks like a gradient. When a step turns out far from that fraction
of the σ along its parameter (outside half to twice), the Hessian is measured again with
steps of that fraction: a second batch. Steps shrink to stay inside the domains and prior
supports.

The first batch also holds 2n points of a central-difference gradient with a small step
(a hundredth of a σ; half a σ for a noisy model, whose jitter the step must rise above):
with the covariance it gives the Newton step ``-H^-1 g`` to the minimum, which the
diagnosis uses. (The CG's own last gradient would not do: its wider steps are biased where
the valley is curved, and the inverse Hessian amplifies a bias along a correlated pair's
degenerate direction many times.)

A Hessian that is not positive definite means the point is not a minimum (or the model is
too noisy at these steps): then there are no numbers, and the solution says so. Neither are
there when the Hessian's least curvature is its rounding alone: when its least eigenvalue
(with the diagonal equilibrated to 1), positive or negative, is within what the rounding
of ``-ln p`` lets second differences resolve, ``4 eps |f| / (h_i h_j)`` relative to the curvatures,
times :data:`_RESOLVE`. Along that combination of the parameters the curvature cannot be
measured (the data may constrain only the combination, as for a model of ``a + b``): σ
would be whatever the rounding made it, and the solution names the parameters of that
direction instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..optimize import (
    LOG,
    FiniteDifference,
    hessian_from_values,
    hessian_points,
    invert_hessian,
)
from .scaling import HESSIAN_STEP, Scaling

__all__ = ["OWN_AXES_TOLERANCE", "Uncertainties", "estimate_uncertainties",
           "uncertainties_note", "unresolved_parameters"]

# A Hessian step within these factors of the σ it finds along its parameter is kept.
_STEP_ACCEPT = (0.5, 2.0)
# Steps are kept this far inside the bounds (a fraction of the room left).
_ROOM = 0.99
# An equilibrated Hessian's eigenvalue counts as resolved above this many times the
# second differences' rounding (see the module doc): its σ is then off by the rounding by
# at most about 1/(2 * _RESOLVE), 5 %. Exact degeneracies (a + b) come out at about 1 time
# it; a line's offset and slope on times far from 0 (correlated at 1 - 2e-8, at -ln p 1e4)
# at some 40 times, with σ right to 6 %.
_RESOLVE = 10.0
#: The covariance's check in its own axes passes when ``|H_w - I|`` is at most this: its
#: σ are then right to about a quarter (σ goes as H^-1/2; a quadratic -ln p gives 0 to the
#: rounding). Measured: a linear model 4e-10; transits with b = 0.5 0.02-0.39 (σ within
#: 1.00-1.09 of the refits' scatter); b = 0.17 up to 3.7, and the numerical transit model
#: on a grid, whose σ(a) was 7 times below a chain's spread, 0.91.
OWN_AXES_TOLERANCE = 0.5


@dataclass(frozen=True)
class Uncertainties:
    """The curvature of ``-ln p`` at a solution and what follows from it.

    Attributes
    ----------
    positive_definite : bool
        Whether the Hessian is positive definite (a minimum); the arrays below are None
        when it is not.
    covariance : ndarray, shape (n, n) or None
        ``H^-1``, in the parameters' units.
    sigma : ndarray, shape (n,) or None
        ``sqrt(diag(covariance))``.
    correlation : ndarray, shape (n, n) or None
        ``covariance_ij / (sigma_i sigma_j)``.
    gradient : ndarray, shape (n,)
        The central gradient with the small steps of the first batch, in the parameters'
        units.
    newton_step : ndarray, shape (n,) or None
        ``-H^-1 g``: where the minimum of the quadratic lies from the solution, in the
        parameters' units.
    hessian : ndarray, shape (n, n)
        ``H`` in the parameters' units (NaN where a value was not finite).
    steps : ndarray, shape (n,)
        The steps of the last batch, in the parameters' units.
    unresolved : ndarray, shape (n,) or None
        When the Hessian's least curvature is its rounding alone (see the module doc):
        the unit direction of its least curvature, with the diagonal equilibrated (so its
        large entries name the parameters the data do not constrain separately); the
        arrays above are then None. None otherwise.
    nfev : int
        Model evaluations (not counted in the fit's ``nfev``).
    rounds : int
        Batches (1 to 3).
    own_axes_deviation : float or None
        The check of the covariance in its own axes (see the module doc): the largest
        entry of ``|H_w - I|``, where ``H_w`` is the Hessian measured along the
        covariance's principal axes in units of their σ; None when not checked (no
        covariance, or a check point beyond a bound).
    """

    positive_definite: bool
    covariance: np.ndarray | None
    sigma: np.ndarray | None
    correlation: np.ndarray | None
    gradient: np.ndarray
    newton_step: np.ndarray | None
    hessian: np.ndarray
    steps: np.ndarray
    nfev: int
    rounds: int
    unresolved: np.ndarray | None = None
    own_axes_deviation: float | None = None

    @property
    def trustworthy(self) -> bool:
        """Whether σ passed its check in the covariance's own axes (or was not checked)."""
        return self.own_axes_deviation is None or self.own_axes_deviation <= OWN_AXES_TOLERANCE


def _steps_inside(u: np.ndarray, wanted: np.ndarray, lower: np.ndarray,
                  upper: np.ndarray) -> np.ndarray:
    room = np.minimum(upper - u, u - lower)
    return np.minimum(wanted, _ROOM * room)


def estimate_uncertainties(evaluate: Callable[[np.ndarray], np.ndarray], u: np.ndarray,
                           scaling: Scaling, lower: np.ndarray, upper: np.ndarray,
                           step: float = HESSIAN_STEP[False],
                           gradient_step: float = 1e-2) -> Uncertainties:
    """The covariance at ``u`` (scaled variables) from a finite-difference Hessian.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(points) -> values`` of ``-ln p`` in scaled variables (one collective
        round per call).
    u : ndarray, shape (n,)
        The solution, in scaled variables.
    scaling : Scaling
        The map to the parameters' units.
    lower, upper : ndarray, shape (n,)
        Closed bounds (scaled variables) no point may cross.
    step : float
        The Hessian's step, in σ along each parameter (the first batch's in scaled
        variables).
    gradient_step : float
        The step of the central gradient (scaled variables).

    Returns
    -------
    Uncertainties
        In the parameters' units.
    """
    n = u.size
    h = _steps_inside(u, np.full(n, float(step)), lower, upper)
    small = _steps_inside(u, np.full(n, float(gradient_step)), lower, upper)
    gradient_rule = FiniteDifference("central", abs_step=small)
    nfev = rounds = 0
    for attempt in range(2):
        points = hessian = hessian_points(u, h)
        if attempt == 0:
            points = np.vstack([hessian, gradient_rule.points(u, small)])
            LOG.info("uncertainties: the Hessian of -ln p at the solution, %d evaluations in "
                     "one round (a second if its steps were off)", len(points))
        values = np.asarray(evaluate(points), dtype=float)
        nfev += len(points)
        rounds += 1
        if attempt == 0:
            n_hessian = len(hessian)
            gradient_u = gradient_rule.gradient(u, small, values[0], values[n_hessian:])
            values = values[:n_hessian]
        hess = hessian_from_values(u, h, values)
        diagonal = np.diag(hess.matrix)
        if attempt == 1 or not np.all(diagonal > 0):
            break
        along = 1.0 / np.sqrt(diagonal)  # the σ along each parameter, the others fixed
        ratio = h / (step * along)
        if np.all((ratio >= _STEP_ACCEPT[0]) & (ratio <= _STEP_ACCEPT[1])):
            break
        wanted = _steps_inside(u, step * along, lower, upper)
        if np.array_equal(wanted, h):
            break
        h = wanted
    s = scaling.scale
    outer = s[:, np.newaxis] * s[np.newaxis, :]
    hessian_x = hess.matrix / outer
    inverse = invert_hessian(hess.matrix)
    gradient = gradient_u / s
    unresolved = _unresolved_direction(hess.matrix, h, values[0])
    if unresolved is not None:
        return Uncertainties(True, None, None, None, gradient, None, hessian_x, h * s, nfev,
                             rounds, unresolved)
    if inverse is None:
        return Uncertainties(False, None, None, None, gradient, None, hessian_x, h * s, nfev,
                             rounds)
    deviation, more = _check_in_own_axes(evaluate, u, inverse, step, lower, upper)
    nfev += more
    rounds += int(more > 0)
    covariance = inverse * outer
    sigma = np.sqrt(np.diag(covariance))
    correlation = covariance / (sigma[:, np.newaxis] * sigma[np.newaxis, :])
    np.fill_diagonal(correlation, 1.0)
    newton = -(covariance @ gradient)
    return Uncertainties(True, covariance, sigma, correlation, gradient, newton, hessian_x,
                         h * s, nfev, rounds, own_axes_deviation=deviation)


def _check_in_own_axes(evaluate, u: np.ndarray, inverse: np.ndarray, step: float,
                       lower: np.ndarray, upper: np.ndarray) -> tuple[float | None, int]:
    """The largest entry of ``|H_w - I|`` along the covariance's own axes, and the evaluations.

    With ``C = V L V^T`` (``inverse``, scaled variables) and ``u = u0 + V L^(1/2) w``, a
    quadratic ``-ln p`` whose Hessian is ``C^-1`` has the identity as its Hessian in ``w``;
    the same central differences (step ``step`` in ``w``: a tenth of each axis's own σ)
    measure it. Along a strongly correlated pair's valley the axis is many times wider than
    the steps along each parameter were, so a model that jitters at those steps (a grid
    over a disc), or a valley that is not quadratic at the scale of σ, shows here. None
    (and no evaluation) when a point would cross a bound.
    """
    values, axes = np.linalg.eigh(inverse)
    if not np.all(values > 0):
        return None, 0
    whiten = axes * np.sqrt(values)  # u - u0 = whiten @ w
    n = u.size
    origin = np.zeros(n)
    w_steps = np.full(n, float(step))
    w_points = hessian_points(origin, w_steps)
    points = u + w_points @ whiten.T
    if np.any(points < lower) or np.any(points > upper):
        return None, 0
    LOG.info("uncertainties: the covariance checked along its own axes, %d evaluations in "
             "one round", len(points))
    found = np.asarray(evaluate(points), dtype=float)
    matrix = hessian_from_values(origin, w_steps, found).matrix
    if not np.all(np.isfinite(matrix)):
        return math.inf, len(points)
    return float(np.max(np.abs(matrix - np.eye(n)))), len(points)


def _unresolved_direction(matrix: np.ndarray, h: np.ndarray, f0: float) -> np.ndarray | None:
    """The equilibrated Hessian's least-curvature direction if rounding is all it holds.

    ``matrix`` is the Hessian (scaled variables), ``h`` its steps and ``f0`` the value at
    the centre: the second differences' rounding is ``4 eps |f0| / (h_i h_j)``. A least
    eigenvalue within that rounding of 0, on either side, is no curvature at all (and a
    Cholesky factor would be made of the rounding, or fail on it); one below it is a
    Hessian that is not positive definite. A diagonal entry within its rounding of 0 is a
    parameter that nothing constrains: the direction is that parameter alone. A negative or
    non-finite diagonal beyond that is not judged here.
    """
    diagonal = np.diag(matrix)
    if not (np.all(np.isfinite(matrix)) and np.isfinite(f0)):
        return None
    rounding_f = 4.0 * np.finfo(float).eps * max(abs(float(f0)), 1.0)
    # A parameter whose own curvature is rounding (the model ignores it, or nearly): the
    # direction is that parameter (those parameters) alone.
    flat = np.abs(diagonal) <= _RESOLVE * rounding_f / (h * h)
    if flat.any():
        return flat / np.sqrt(np.count_nonzero(flat))
    if not np.all(diagonal > 0):
        return None
    d = np.sqrt(diagonal)
    equilibrated = matrix / (d[:, np.newaxis] * d[np.newaxis, :])
    rounding = rounding_f / np.outer(h, h) / np.outer(d, d)
    values, vectors = np.linalg.eigh(equilibrated)
    if abs(values[0]) > _RESOLVE * float(np.max(rounding)):
        return None
    direction = vectors[:, 0]
    return direction * np.sign(direction[int(np.argmax(np.abs(direction)))])


def unresolved_parameters(uncertainties: Uncertainties, names: list[str]) -> list[str]:
    """The parameters of an unresolved direction (entries at least a tenth of its largest)."""
    direction = np.abs(uncertainties.unresolved)
    return [n for n, v in zip(names, direction, strict=True) if v >= 0.1 * direction.max()]


def uncertainties_note(found: Uncertainties | None, names: list[str], skipped: str = "") -> str:
    """Why a fit has no uncertainties, or why they may be off; "" when they passed.

    ``found`` is the outcome (None: not measured, for the reason ``skipped``), ``names``
    the fitted parameters.
    """
    if found is None:
        return skipped
    if found.unresolved is not None:
        involved = unresolved_parameters(found, names)
        if len(involved) == 1:
            return f"the Hessian is flat, within its rounding, in {involved[0]}"
        return ("the Hessian is flat, within its rounding, along a combination of "
                f"{', '.join(involved)}")
    if not found.positive_definite:
        return "the Hessian is not positive definite (not a minimum)"
    if found.trustworthy:
        return ""
    return ("σ may be off by tens of percent: along the covariance's own axes, -ln p's "
            f"curvature at a tenth of a σ is up to {found.own_axes_deviation:.2g} times off "
            "the covariance's (-ln p is not quadratic at the scale of σ, or the model "
            "jitters); a sampler (emcee) measures the spread")
