"""The strong-Wolfe line search along a direction: Moré–Thuente first, zoom as fallback.

This binds the scalar searches of :mod:`.more_thuente` and :mod:`.zoom` to an objective
along ``x + alpha p``. Moré–Thuente is tried first; when it fails, or when its step is
rejected by the caller's extra condition (CG's sufficient-descent check), the bracketing and
zoom search of Nocedal & Wright starts afresh, with the same extra condition. When both fail
a :class:`LineSearchError` is raised (CG then stops with warnflag 2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .more_thuente import more_thuente_search
from .objective import BatchedObjective
from .zoom import zoom_search

__all__ = ["LineSearchError", "LineSearchResult", "first_trial_step", "strong_wolfe_search"]

#: ``accept(alpha, x_new, f_new, g_new) -> bool``: an extra condition on an accepted step.
ExtraCondition = Callable[[float, np.ndarray, float, np.ndarray], bool]


class LineSearchError(RuntimeError):
    """Neither line search found an acceptable step."""


@dataclass(frozen=True)
class LineSearchResult:
    """An accepted step.

    Attributes
    ----------
    step : float
        The step length alpha.
    f_new : float
        The objective at ``x + step * p``.
    g_new : ndarray or None
        The gradient there, or None if the search ended without computing it.
    """

    step: float
    f_new: float
    g_new: np.ndarray | None


def first_trial_step(phi0: float, old_phi0: float | None, derphi0: float) -> float:
    """The first trial step: the one that would repeat the last decrease, at most 1.

    Assuming the decrease ``phi0 - old_phi0`` of the previous iteration repeats, a quadratic
    model with slope ``derphi0`` reaches it at ``2 (phi0 - old_phi0) / derphi0``; 1.01 times
    that, capped at 1 (Nocedal & Wright, eq. 3.60). A negative value falls back to 1.
    """
    if old_phi0 is not None and derphi0 != 0:
        alpha1 = min(1.0, 1.01 * 2 * (phi0 - old_phi0) / derphi0)
        if alpha1 < 0:
            alpha1 = 1.0
        return alpha1
    return 1.0


def strong_wolfe_search(
    objective: BatchedObjective,
    xk: np.ndarray,
    pk: np.ndarray,
    gfk: np.ndarray,
    old_fval: float,
    old_old_fval: float | None,
    c1: float = 1e-4,
    c2: float = 0.4,
    amin: float = 1e-100,
    amax: float = 1e100,
    xtol: float = 1e-14,
    accept: ExtraCondition | None = None,
) -> LineSearchResult:
    """Find a step along ``pk`` satisfying the strong Wolfe conditions and ``accept``.

    Parameters
    ----------
    objective : BatchedObjective
        Where values and gradients come from.
    xk, pk, gfk : ndarray
        The current point, the search direction and the gradient at ``xk``.
    old_fval : float
        f(xk).
    old_old_fval : float or None
        f at the previous iterate; sets the first trial step.
    c1, c2 : float
        Sufficient-decrease and curvature constants.
    amin, amax : float
        Bounds on the step (``amin`` for Moré–Thuente only).
    xtol : float
        Moré–Thuente's relative tolerance on the interval of uncertainty.
    accept : callable, optional
        An extra condition ``accept(alpha, x_new, f_new, g_new)`` a step must pass.

    Returns
    -------
    LineSearchResult
        The accepted step with f and (usually) the gradient there.

    Raises
    ------
    LineSearchError
        When neither search finds an acceptable step.
    """
    derphi0 = np.dot(gfk, pk)
    alpha1 = first_trial_step(old_fval, old_old_fval, derphi0)

    # Moré–Thuente: one batch (f and gradient together) per trial step.
    last_g = [gfk]

    def phi_and_derivative(alpha: float) -> tuple[float, float]:
        f, g = objective.value_and_gradient(xk + alpha * pk)
        last_g[0] = g
        return f, np.dot(g, pk)

    mt = more_thuente_search(phi_and_derivative, alpha1, old_fval, derphi0,
                             ftol=c1, gtol=c2, xtol=xtol, stpmin=amin, stpmax=amax)
    if mt.step is not None and (
        accept is None or accept(mt.step, xk + mt.step * pk, mt.phi, last_g[0])
    ):
        return LineSearchResult(mt.step, mt.phi, last_g[0])

    # Fallback: bracketing and zoom, which asks for f and the gradient separately.
    grad_at: list = [None, None]  # [alpha, gradient] of the last gradient evaluated

    def phi(alpha: float) -> float:
        return objective.value(xk + alpha * pk)

    def derphi(alpha: float) -> float:
        grad_at[:] = [alpha, objective.gradient(xk + alpha * pk)]
        return np.dot(grad_at[1], pk)

    def accept_step(alpha: float, phi_alpha: float) -> bool:
        if accept is None:
            return True
        if grad_at[0] != alpha:
            derphi(alpha)
        return accept(alpha, xk + alpha * pk, phi_alpha, grad_at[1])

    zr = zoom_search(phi, derphi, old_fval, min(alpha1, amax), derphi0, c1, c2,
                     amax=amax, accept=accept_step)
    if zr.step is None:
        raise LineSearchError("no step satisfying the strong Wolfe conditions was found")
    g_new = grad_at[1] if zr.derphi is not None else None
    return LineSearchResult(zr.step, zr.phi, g_new)
