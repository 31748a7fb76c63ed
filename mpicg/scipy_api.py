"""Drop-in replacements for ``scipy.optimize.fmin_cg`` and ``minimize(method='CG')``.

Same signatures, same defaults, same return forms, same printed summary, and the same
iterates and counts as scipy — the parity tests hold them to it. What differs is underneath:
objective values are computed in batches through an evaluator, so the same call can spread
its work over MPI ranks.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable

import numpy as np

from ._validation import (
    check_callable,
    check_line_search_constants,
    check_maxiter,
    check_nonnegative,
    check_step,
    check_x0,
)
from .executor import Evaluator, SerialEvaluator
from .optimizer import BatchedObjective, FiniteDifference, initial_state, run_cg
from .optimizer.cg import CGState
from .result import OptimizeResult, OptimizeWarning, warn_unsuccessful

__all__ = ["fmin_cg", "minimize", "minimize_cg"]

_EPSILON = float(np.sqrt(np.finfo(float).eps))
_CG_OPTIONS = ("gtol", "norm", "eps", "maxiter", "disp", "return_all",
               "finite_diff_rel_step", "c1", "c2")
STOPPED_BY_CALLBACK = "`callback` raised `StopIteration`."


def fmin_cg(f: Callable[..., float], x0, fprime: Callable | None = None, args: tuple = (),
            gtol: float = 1e-5, norm: float = np.inf, epsilon=_EPSILON,
            maxiter: int | None = None, full_output: bool = False, disp: bool = True,
            retall: bool = False, callback: Callable | None = None,
            c1: float = 1e-4, c2: float = 0.4):
    """Minimize a function with a nonlinear conjugate-gradient algorithm (Polak–Ribière+).

    A drop-in for ``scipy.optimize.fmin_cg``: the same arguments, results and counts.

    Parameters
    ----------
    f : callable
        ``f(x, *args) -> float``, the objective; ``x`` is a 1-D array.
    x0 : array_like
        The starting point, 1-D.
    fprime : callable, optional
        ``fprime(x, *args) -> ndarray``, the gradient. When None it is approximated by
        forward differences with the absolute step ``epsilon``.
    args : tuple, optional
        Extra arguments for ``f`` and ``fprime``.
    gtol : float, optional
        Stop when the norm of the gradient is at most ``gtol``.
    norm : float, optional
        Order of that norm (``inf`` is the largest component, ``-inf`` the smallest).
    epsilon : float or ndarray, optional
        Finite-difference step(s), scalar or one per parameter; default sqrt(machine eps).
    maxiter : int, optional
        Maximum number of iterations; default ``200 * len(x0)``.
    full_output : bool, optional
        Also return ``fopt, func_calls, grad_calls, warnflag``.
    disp : bool, optional
        Print a convergence summary (a warning instead when the run did not succeed).
    retall : bool, optional
        Also return the list of iterates.
    callback : callable, optional
        Called after every iteration as ``callback(xk)``, or as
        ``callback(intermediate_result=res)`` if that is its only parameter. Raising
        ``StopIteration`` in it ends the run at the current point.
    c1, c2 : float, optional
        The Armijo and curvature constants of the strong Wolfe conditions,
        ``0 < c1 < c2 < 1``.

    Returns
    -------
    xopt : ndarray
        The point found.
    fopt, func_calls, grad_calls, warnflag : float, int, int, int
        With ``full_output``: f(xopt), objective and gradient evaluation counts, and 0
        (success), 1 (maxiter reached), 2 (line-search failure, precision loss) or 3 (NaN).
    allvecs : list of ndarray
        With ``retall``: the iterates.

    Examples
    --------
    >>> import numpy as np
    >>> import mpicg
    >>> def f(x):
    ...     return (x[0] - 1.0) ** 2 + 10.0 * (x[1] + 2.0) ** 2
    >>> mpicg.fmin_cg(f, np.zeros(2), disp=False).round(6)
    array([ 1., -2.])
    """
    res = _minimize_cg_callable(
        f, x0, args=args, jac=fprime, callback=callback, gtol=gtol, norm=norm, eps=epsilon,
        maxiter=maxiter, disp=disp, return_all=retall, c1=c1, c2=c2,
        names=("f", "fprime", "epsilon"),
    )
    if full_output:
        out = (res["x"], res["fun"], res["nfev"], res["njev"], res["status"])
        return (*out, res["allvecs"]) if retall else out
    return (res["x"], res["allvecs"]) if retall else res["x"]


def minimize(fun: Callable[..., float], x0, args: tuple = (), method: str = "CG",
             jac=None, callback: Callable | None = None, tol: float | None = None,
             options: dict | None = None) -> OptimizeResult:
    """Minimize a scalar function with conjugate gradients, like ``scipy.optimize.minimize``.

    Only ``method='CG'`` exists. The options are scipy's for CG.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> float``; with ``jac=True``, ``fun(x, *args) -> (float, ndarray)``.
    x0 : array_like
        The starting point, 1-D.
    args : tuple, optional
        Extra arguments for ``fun`` and ``jac``.
    method : str, optional
        ``'CG'`` (case-insensitive).
    jac : callable, bool or str, optional
        The gradient: a callable ``jac(x, *args)``; True when ``fun`` returns it; ``'2-point'``
        or ``'3-point'`` for finite differences with a relative step; None for forward
        differences with the absolute step ``options['eps']``.
    callback : callable, optional
        ``callback(intermediate_result=res)`` (``res.x``, ``res.fun``) or ``callback(xk)``,
        after every iteration; ``StopIteration`` ends the run (status 99).
    tol : float, optional
        Default for ``gtol``.
    options : dict, optional
        ``gtol``, ``norm``, ``eps``, ``maxiter``, ``disp``, ``return_all``,
        ``finite_diff_rel_step``, ``c1``, ``c2``.

    Returns
    -------
    OptimizeResult
        ``x, fun, jac, nit, nfev, njev, status, success, message`` (and ``allvecs``).
    """
    if not isinstance(method, str) or method.lower() != "cg":
        raise ValueError(f"`method` must be 'CG' (the only method mpicg has); got {method!r}")
    options = dict(options or {})
    unknown = [k for k in options if k not in _CG_OPTIONS]
    if unknown:
        warnings.warn(f"Unknown solver options: {', '.join(map(str, unknown))}",
                      OptimizeWarning, stacklevel=2)
        for k in unknown:
            del options[k]
    if tol is not None:
        options.setdefault("gtol", tol)
    if not isinstance(args, tuple):
        args = (args,)
    res = _minimize_cg_callable(fun, x0, args=args, jac=jac, callback=callback,
                                names=("fun", "jac", "eps"), **options)
    return res


class _ValueAndGradient:
    """``fun`` returning ``(f, g)`` seen as two functions, computed once per point."""

    def __init__(self, fun: Callable, args: tuple):
        self.fun, self.args = fun, args
        self._x = None
        self._f = self._g = None

    def _compute(self, x: np.ndarray) -> None:
        if self._x is None or not np.array_equal(x, self._x):
            out = self.fun(np.copy(x), *self.args)
            if not (isinstance(out, tuple | list) and len(out) == 2):
                raise TypeError("with jac=True, `fun` must return a pair (f, gradient); "
                                f"it returned {out!r}")
            self._x = np.copy(x)
            self._f, self._g = out

    def value(self, x: np.ndarray):
        self._compute(x)
        return self._f

    def gradient(self, x: np.ndarray):
        self._compute(x)
        return self._g


def _evaluator_for(fun: Callable, args: tuple, name: str) -> Evaluator:
    """The evaluator for a plain objective callable."""
    return SerialEvaluator(fun, args, name=name)


def _minimize_cg_callable(fun, x0, args=(), jac=None, callback=None, gtol=1e-5, norm=np.inf,
                          eps=_EPSILON, maxiter=None, disp=False, return_all=False,
                          finite_diff_rel_step=None, c1=1e-4, c2=0.4,
                          names=("fun", "jac", "eps")) -> OptimizeResult:
    """Check the arguments, build the batched objective for a callable, and run CG."""
    fun_name, jac_name, eps_name = names
    check_callable(fun, fun_name)
    x0 = check_x0(x0)
    n = x0.size
    if jac is True:
        pair = _ValueAndGradient(fun, args)
        evaluator = _evaluator_for(pair.value, (), fun_name)
        gradient = pair.gradient
    else:
        evaluator = _evaluator_for(fun, args, fun_name)
        if callable(jac):
            def gradient(x):
                return jac(x, *args)
        elif jac is None or jac is False:
            gradient = FiniteDifference("forward", abs_step=check_step(eps, n, eps_name))
        elif isinstance(jac, str) and jac in ("2-point", "3-point"):
            rel = None if finite_diff_rel_step is None else check_step(
                finite_diff_rel_step, n, "finite_diff_rel_step")
            gradient = FiniteDifference(jac, rel_step=rel)
        else:
            raise ValueError(f"`{jac_name}` must be a callable, True, None, '2-point' or "
                             f"'3-point'; got {jac!r}")
    objective = BatchedObjective(evaluator, n, gradient, gradient_name=jac_name)
    res = minimize_cg(objective, x0, gtol=gtol, norm=norm, maxiter=maxiter, c1=c1, c2=c2,
                      callback=callback, return_all=return_all, disp=disp)
    if res.pop("halted") and fun_name == "fun":
        # minimize() reports a callback's StopIteration; fmin_cg() keeps the warnflag.
        res.update(status=99, success=False, message=STOPPED_BY_CALLBACK)
    return res


def _callback_hook(callback: Callable | None):
    """Turn a user callback into ``hook(state) -> halt``, as scipy calls callbacks."""
    if callback is None:
        return None
    check_callable(callback, "callback")
    try:
        wants_result = set(inspect.signature(callback).parameters) == {"intermediate_result"}
    except (TypeError, ValueError):  # builtins without a signature
        wants_result = False

    def hook(state: CGState) -> bool:
        try:
            if wants_result:
                callback(intermediate_result=OptimizeResult(x=np.copy(state.x), fun=state.f))
            else:
                callback(np.copy(state.x))
        except StopIteration:
            return True
        return False

    return hook


def minimize_cg(objective: BatchedObjective, x0: np.ndarray, *, gtol: float = 1e-5,
                norm: float = np.inf, maxiter: int | None = None, c1: float = 1e-4,
                c2: float = 0.4, callback: Callable | None = None, return_all: bool = False,
                disp: bool = False) -> OptimizeResult:
    """Run Polak–Ribière+ CG on a batched objective and report as scipy does.

    Parameters
    ----------
    objective : BatchedObjective
        Values and gradients (counts are read from it).
    x0 : ndarray
        The starting point (already checked: 1-D, finite, float64).
    gtol, norm, maxiter, c1, c2, callback, return_all, disp
        As in :func:`fmin_cg` / :func:`minimize`.

    Returns
    -------
    OptimizeResult
        scipy's fields, plus ``halted`` (True when the callback stopped the run).
    """
    gtol = check_nonnegative(gtol, "gtol")
    c1, c2 = check_line_search_constants(c1, c2)
    maxiter = check_maxiter(maxiter, x0.size)
    if isinstance(norm, bool) or not isinstance(norm, int | float | np.number) or np.isnan(norm):
        raise ValueError(f"`norm` must be a number (an order such as 2 or inf); got {norm!r}")
    hook = _callback_hook(callback)

    state = initial_state(objective, x0, norm)
    outcome = run_cg(objective, state, gtol=gtol, norm=norm, maxiter=maxiter, c1=c1, c2=c2,
                     on_iteration=hook, return_all=return_all)
    final = outcome.state
    if disp:
        if outcome.warnflag == 0:
            print(outcome.message)
        else:
            warn_unsuccessful(outcome.message, stacklevel=4)
        print(f"         Current function value: {final.f:f}")
        print(f"         Iterations: {final.k:d}")
        print(f"         Function evaluations: {objective.nfev:d}")
        print(f"         Gradient evaluations: {objective.njev:d}")
    res = OptimizeResult(fun=final.f, jac=final.g, nfev=objective.nfev, njev=objective.njev,
                         status=outcome.warnflag, success=outcome.warnflag == 0,
                         message=outcome.message, x=final.x, nit=final.k)
    if return_all:
        res["allvecs"] = outcome.allvecs
    res["halted"] = outcome.halted
    return res
