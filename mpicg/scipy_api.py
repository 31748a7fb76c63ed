"""Drop-in replacements for ``scipy.optimize.fmin_cg`` and ``minimize(method='CG')``.

Same signatures, same defaults, same return forms, same printed summary, and the same
iterates and counts as scipy — the parity tests hold them to it. What differs is underneath:
objective values are computed in batches through an evaluator, so the same call can spread
its work over MPI ranks.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Callable

import numpy as np

from .errors import InputError
from .fitting._collective import collective_cg
from .optimize import DEFAULT_C1, DEFAULT_C2, EPSILON, OptimizeResult, warning_class
from .parallel import warn_on_root

__all__ = ["fmin_cg", "minimize"]

_CG_OPTIONS = ("gtol", "norm", "eps", "maxiter", "disp", "return_all",
               "finite_diff_rel_step", "c1", "c2", "workers")


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
        Maximum number of iterations; default ``200 * len(x0)``. Any number, as in scipy:
        CG iterates while the iteration count is below it (0 or less: none, status 1).
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
        ``0 < c1 < c2 < 1`` (checked at the first line search, as scipy does).

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
                        halt_status=False, as_scipy=True).result
    del res["rounds"], res["fun_initial"]  # scipy's fields only
    if full_output:
        out = (res["x"], res["fun"], res["nfev"], res["njev"], res["status"])
        return (*out, res["allvecs"]) if retall else out
    return (res["x"], res["allvecs"]) if retall else res["x"]


def minimize(fun: Callable[..., float], x0, args: tuple = (), method: str = "CG",
             jac=None, hess=None, hessp=None, bounds=None, constraints=(),
             tol: float | None = None, callback: Callable | None = None,
             options: dict | None = None) -> OptimizeResult:
    """Minimize a scalar function with conjugate gradients, like ``scipy.optimize.minimize``.

    scipy's signature, argument for argument. Only ``method='CG'`` exists (the default;
    scipy's ``None`` means BFGS). As scipy's CG does, it warns that it ignores ``hess``,
    ``hessp``, ``bounds`` and ``constraints`` (``RuntimeWarning``, scipy's words), after
    checking ``bounds`` as scipy does.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> float``; with ``jac=True``, ``fun(x, *args) -> (float, ndarray)``;
        with ``jac='cs'`` it must accept complex ``x``.
    x0 : array_like
        The starting point, 1-D.
    args : tuple, optional
        Extra arguments for ``fun`` and ``jac``.
    method : str, optional
        ``'CG'`` (case-insensitive).
    jac : callable, bool or str, optional
        The gradient: a callable ``jac(x, *args)``; True when ``fun`` returns it; ``'2-point'``
        or ``'3-point'`` for finite differences with a relative step, ``'cs'`` for the
        complex step; None for forward differences with the absolute step ``options['eps']``.
    hess, hessp : callable, optional
        Ignored, with scipy's warning.
    bounds : sequence of (min, max) pairs or Bounds, optional
        Checked as scipy checks them (a ``ValueError`` for an upper bound below its lower
        bound, or a length other than ``len(x0)``), then ignored with scipy's warning.
    constraints : dict or sequence, optional
        Ignored, with scipy's warning (when any is given).
    tol : float, optional
        Default for ``gtol``.
    callback : callable, optional
        ``callback(intermediate_result=res)`` (``res.x``, ``res.fun``) or ``callback(xk)``,
        after every iteration; ``StopIteration`` ends the run (status 99).
    options : dict, optional
        ``gtol``, ``norm``, ``eps``, ``maxiter`` (any number, as scipy: the run iterates
        while the iteration count is below it), ``disp``, ``return_all``,
        ``finite_diff_rel_step``, ``c1``, ``c2`` (checked at the first line search, as
        scipy does), ``workers`` (a map-like callable, or an int: a process pool of that
        many workers, -1 for all cores; used for the finite-difference points of a serial
        run; under MPI the ranks share them instead). Others are ignored with scipy's
        ``OptimizeWarning`` ("Unknown solver options: ...").

    Returns
    -------
    OptimizeResult
        scipy's ``x, fun, jac, nit, nfev, njev, status, success, message`` (and
        ``allvecs``), and mpicg's ``options`` (the CG options the run used) and, for a
        sum objective, its sharing's ``sharing, imbalance_before, imbalance_after,
        rebalances`` (as :func:`mpicg.fit`'s result).

    Raises
    ------
    ValueError
        A method other than CG, bad bounds, bad options (naming them).
    """
    # Checked on every rank, raised on every rank together (a collective verdict at the
    # start of the run): a rank that raised here alone would leave the others waiting in
    # the run, or take the next run's messages for this one's.
    local_error, workers = None, None
    options = dict(options or {})
    try:
        if not isinstance(method, str) or method.lower() != "cg":
            raise ValueError(f"`method` must be 'CG' (the only method mpicg has); got "
                             f"{method!r}")
        # scipy's own warnings for what CG ignores (scipy.optimize.minimize, stacklevel
        # 2); rank 0's only: every rank was given the same arguments
        if hess is not None:
            warn_on_root(f"Method {method} does not use Hessian information (hess).",
                         RuntimeWarning, stacklevel=2)
        if hessp is not None:
            warn_on_root(f"Method {method} does not use Hessian-vector product information "
                         "(hessp).", RuntimeWarning, stacklevel=2)
        if np.any(constraints):
            warn_on_root(f"Method {method} cannot handle constraints.", RuntimeWarning,
                         stacklevel=2)
        if bounds is not None:
            warn_on_root(f"Method {method} cannot handle bounds.", RuntimeWarning,
                         stacklevel=2)
            _check_bounds(bounds, x0)
        unknown = [k for k in options if k not in _CG_OPTIONS]
        if unknown:
            warn_on_root(f"Unknown solver options: {', '.join(map(str, unknown))}",
                         warning_class(), stacklevel=2)
            for k in unknown:
                del options[k]
        workers = options.pop("workers", None)
        _check_workers(workers)
    except Exception as e:
        local_error, workers = e, None
        options = {}
    if tol is not None:
        options.setdefault("gtol", tol)
    if not isinstance(args, tuple):
        args = (args,)
    with _map_for(workers) as mapper:
        res = collective_cg(fun, x0, args=args, jac=jac, callback=callback, workers=mapper,
                            as_scipy=True, local_error=local_error, **options).result
    del res["rounds"], res["fun_initial"]  # (kept: the options and the sharing's numbers)
    return res


def _check_bounds(bounds, x0) -> None:
    """Check ``bounds`` as scipy does even for CG (``_validate_bounds``), with its words."""
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):  # a scipy.optimize.Bounds
        lb, ub = bounds.lb, bounds.ub
    else:  # old-style (min, max) pairs, None for no bound
        try:
            pairs = [tuple(b) for b in bounds]
            lb = np.array([-np.inf if lo is None else lo for lo, _ in pairs], dtype=float)
            ub = np.array([np.inf if hi is None else hi for _, hi in pairs], dtype=float)
        except (TypeError, ValueError) as e:
            raise InputError(f"`bounds` must be a sequence of (min, max) pairs or a Bounds; "
                             f"got {bounds!r:.200}") from e
    lb, ub = np.asarray(lb, dtype=float), np.asarray(ub, dtype=float)
    if np.any(ub < lb):
        raise InputError("An upper bound is less than the corresponding lower bound.")
    shape = np.atleast_1d(np.asarray(x0)).shape
    try:
        np.broadcast_to(lb, shape)
        np.broadcast_to(ub, shape)
    except ValueError as e:
        raise InputError("The number of bounds is not compatible with the length of "
                         "`x0`.") from e


def _check_workers(workers) -> None:
    """InputError unless ``workers`` is None, a map-like callable, an int >= 1 or -1."""
    if workers is None or callable(workers):
        return
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) \
            or not (workers >= 1 or workers == -1):
        raise InputError(f"`workers` must be a map-like callable, an int >= 1 or -1; "
                         f"got {workers!r:.100}")


@contextlib.contextmanager
def _map_for(workers):
    """The map-like callable for scipy's ``workers`` (None: one call after the other).

    An int > 1 (or -1: every core) starts a process pool for the run, as scipy does; the
    objective must then pickle. ``workers`` was checked (:func:`_check_workers`).
    """
    if workers is None or callable(workers):
        yield workers
        return
    if workers == 1:
        yield None
        return
    import multiprocessing

    with multiprocessing.Pool(None if workers == -1 else int(workers)) as pool:
        yield pool.map
