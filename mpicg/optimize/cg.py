"""The Polak–Ribière+ nonlinear conjugate-gradient iteration.

Nocedal & Wright, *Numerical Optimization*, section 5.2: the direction is
``p_{k+1} = -g_{k+1} + beta p_k`` with the PR+ choice
``beta = max(0, g_{k+1}^T (g_{k+1} - g_k) / g_k^T g_k)``. The strong Wolfe conditions do not
guarantee that ``p_{k+1}`` is a descent direction for PR+, so every step is also checked
for sufficient descent, ``p_{k+1}^T g_{k+1} <= -sigma_3 |g_{k+1}|^2`` with ``sigma_3 = 0.01``
(Gilbert & Nocedal, SIAM J. Optim. 2 (1992) 21), unless the new gradient already meets the
tolerance. The semantics (first step, counts, stopping, warnflags, messages) are those of
``scipy.optimize.fmin_cg``.

The iteration is an explicit :class:`CGState` and a function from one state to the next, so
that a run can be checkpointed between iterations and resumed to the same bits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._checks import check_line_search_constants_as_scipy
from .linesearch import LineSearchError, strong_wolfe_search
from .objective import BatchedObjective

__all__ = [
    "MESSAGES", "CGOutcome", "CGState", "IterationHook", "cg_iteration", "initial_state",
    "run_cg", "vecnorm",
]

SIGMA_3 = 0.01  # sufficient-descent constant of Gilbert & Nocedal (1992)

MESSAGES = {
    0: "Optimization terminated successfully.",
    1: "Maximum number of iterations has been exceeded.",
    2: "Desired error not necessarily achieved due to precision loss.",
    3: "NaN result encountered.",
}


def vecnorm(x: np.ndarray, ord: float = 2) -> float:
    """The ``ord``-norm of a vector; ``inf`` is the largest and ``-inf`` the smallest |x_i|."""
    if ord == np.inf:
        return np.amax(np.abs(x))
    if ord == -np.inf:
        return np.amin(np.abs(x))
    return np.sum(np.abs(x) ** ord, axis=0) ** (1.0 / ord)


@dataclass(frozen=True)
class CGState:
    """Everything the iteration carries from one iteration to the next.

    Attributes
    ----------
    x : ndarray
        The current iterate x_k.
    f : float
        f(x_k).
    f_previous : float
        f at the previous iterate (sets the first trial step of the next line search).
    g : ndarray
        The gradient at x_k.
    p : ndarray
        The search direction p_k.
    gnorm : float
        ``vecnorm(g, norm)``.
    k : int
        Iterations done.
    """

    x: np.ndarray
    f: float
    f_previous: float
    g: np.ndarray
    p: np.ndarray
    gnorm: float
    k: int = 0


def initial_state(objective: BatchedObjective, x0: np.ndarray, norm: float) -> CGState:
    """Evaluate f and its gradient at ``x0`` and set up the first, steepest-descent step."""
    f0, g0 = objective.value_and_gradient(x0)  # one batch with finite differences
    # Pretend the previous iteration decreased f by |g0|/2: the first trial step then moves
    # x by about 1 (``first_trial_step`` with phi'(0) = -|g0|^2).
    f_previous = f0 + np.linalg.norm(g0) / 2
    return CGState(x=x0, f=f0, f_previous=f_previous, g=g0, p=-g0,
                   gnorm=vecnorm(g0, ord=norm), k=0)


def cg_iteration(objective: BatchedObjective, state: CGState, *, gtol: float, norm: float,
                 c1: float, c2: float) -> CGState:
    """One PR+ iteration: a line search along ``state.p`` and the next direction.

    Raises
    ------
    LineSearchError
        When no acceptable step is found.
    """
    xk, gfk, pk = state.x, state.g, state.p
    deltak = np.dot(gfk, gfk)

    def next_direction(alpha: float, g_new: np.ndarray | None):
        x_new = xk + alpha * pk
        if g_new is None:
            g_new = objective.gradient(x_new)
        beta = max(0, np.dot(g_new - gfk, g_new) / deltak)
        return alpha, x_new, -g_new + beta * pk, g_new, vecnorm(g_new, ord=norm)

    tried: list = [None]  # the last step the descent check computed a direction for

    def sufficient_descent(alpha, x_new, f_new, g_new) -> bool:
        tried[0] = next_direction(alpha, g_new)
        _, _, p_new, g_new, gnorm_new = tried[0]
        if gnorm_new <= gtol:
            return True  # converged: the direction no longer matters
        return np.dot(p_new, g_new) <= -SIGMA_3 * np.dot(g_new, g_new)

    ls = strong_wolfe_search(objective, xk, pk, gfk, state.f, state.f_previous, c1=c1, c2=c2,
                             amin=1e-100, amax=1e100, accept=sufficient_descent)
    if tried[0] is not None and ls.step == tried[0][0]:
        _, x_new, p_new, g_new, gnorm_new = tried[0]
    else:
        _, x_new, p_new, g_new, gnorm_new = next_direction(ls.step, ls.g_new)
    return CGState(x=x_new, f=ls.f_new, f_previous=state.f, g=g_new, p=p_new,
                   gnorm=gnorm_new, k=state.k + 1)


#: ``on_iteration(state) -> bool``: called after every iteration; True stops the run.
IterationHook = Callable[[CGState], bool]


@dataclass(frozen=True)
class CGOutcome:
    """How a CG run ended: the last state, the warnflag, its message and the iterates."""

    state: CGState
    warnflag: int
    message: str
    allvecs: list | None
    halted: bool


def run_cg(objective: BatchedObjective, state: CGState, *, gtol: float, norm: float,
           maxiter: int, c1: float, c2: float, on_iteration: IterationHook | None = None,
           return_all: bool = False, allvecs: list | None = None) -> CGOutcome:
    """Iterate from ``state`` until convergence, ``maxiter``, a line-search failure or a halt.

    Parameters
    ----------
    objective : BatchedObjective
        Values and gradients.
    state : CGState
        Where to start (:func:`initial_state`, or a restored checkpoint).
    gtol, norm, maxiter, c1, c2
        As in :func:`mpicg.fmin_cg`.
    on_iteration : callable, optional
        Called with the new state after every iteration; returning True stops the run.
    return_all : bool, optional
        Keep every iterate (``allvecs``).
    allvecs : list, optional
        With ``return_all``: the list to append the iterates to (a resumed run's, or one the
        caller watches); by default a new one starting with ``state.x``.

    Returns
    -------
    CGOutcome
        The final state and scipy's warnflag and message.
    """
    first = state
    if return_all and allvecs is None:
        allvecs = [state.x]
    elif not return_all:
        allvecs = None
    line_search_failed = halted = False
    while state.gnorm > gtol and state.k < maxiter:
        if state is first:
            # scipy checks these in its line search; the other entry points checked them
            # before any evaluation, and then this passes.
            check_line_search_constants_as_scipy(c1, c2)
        try:
            state = cg_iteration(objective, state, gtol=gtol, norm=norm, c1=c1, c2=c2)
        except LineSearchError:
            line_search_failed = True
            break
        if allvecs is not None:
            allvecs.append(state.x)
        if on_iteration is not None and on_iteration(state):
            halted = True
            break

    if line_search_failed:
        warnflag = 2
    elif state.k >= maxiter:
        warnflag = 1
    elif np.isnan(state.gnorm) or np.isnan(state.f) or np.isnan(state.x).any():
        warnflag = 3
    else:
        warnflag = 0
    return CGOutcome(state=state, warnflag=warnflag, message=MESSAGES[warnflag],
                     allvecs=allvecs, halted=halted)

