"""Drop-in replacements for ``scipy.optimize.fmin_cg`` and ``minimize(method='CG')``.

Same signatures, same defaults, same return forms, same printed summary, and the same
iterates and counts as scipy — the parity tests hold them to it. What differs is underneath:
objective values are computed in batches through an evaluator, so the same call can spread
its work over MPI ranks.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from .fitting._collective import collective_cg
from .optimize import DEFAULT_C1, DEFAULT_C2, EPSILON, OptimizeResult, OptimizeWarning

__all__ = ["fmin_cg", "minimize"]

_CG_OPTIONS = ("gtol", "norm", "eps", "maxiter", "disp", "return_all",
               "finite_diff_rel_step", "c1", "c2")


def fmin_cg(f: Callable[..., float], x0, fprime: Callable | None = None, args: tuple = (),
            gtol: float = 1e-5, norm: float = np.inf, epsilon=EPSILON,
            maxiter: int | None = None, full_output: bool = False, disp: bool = True,
            retall: bool = False, callback: Callable | None = None,
            c1: float = DEFAULT_C1, c2: float = DEFAULT_C2):
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
    res = collective_cg(f, x0, args=args, jac=fprime, callback=callback, gtol=gtol,
                        norm=norm, eps=epsilon, maxiter=maxiter, disp=disp, return_all=retall,
                        c1=c1, c2=c2, names=("f", "fprime", "epsilon"),
                        halt_status=False).result
    del res["rounds"], res["fun_initial"]  # scipy's fields only
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
    res = collective_cg(fun, x0, args=args, jac=jac, callback=callback, **options).result
    del res["rounds"], res["fun_initial"]  # scipy's fields only
    return res
