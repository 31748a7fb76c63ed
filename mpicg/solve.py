"""The one path from arguments to a finished CG run, serial or over MPI ranks.

Arguments are checked on rank 0 only (an error is raised once), the work is shared out (by
points for a plain callable, by blocks of observations for a sum objective), and rank 0 runs
the optimizer while every rank evaluates.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._validation import check_callable, check_step, check_x0
from .driver import check_cg_options, minimize_cg
from .errors import InputError
from .executor import Evaluator
from .executor.work import PointWork, Work
from .jobs import distribute, run_job
from .optimizer import BatchedObjective, FiniteDifference
from .problem import SumObjective
from .result import OptimizeResult

__all__ = ["EPSILON", "gradient_rule", "solve"]

#: scipy's default finite-difference step, sqrt(machine epsilon).
EPSILON = float(np.sqrt(np.finfo(float).eps))


def gradient_rule(jac, epsilon, finite_diff_rel_step, n: int,
                  names: tuple[str, str] = ("jac", "epsilon")) -> FiniteDifference:
    """The finite-difference rule for ``jac`` in (None, '2-point', '3-point')."""
    jac_name, eps_name = names
    if jac is None or jac is False:
        return FiniteDifference("forward", abs_step=check_step(epsilon, n, eps_name))
    if isinstance(jac, str) and jac in ("2-point", "3-point"):
        rel = None if finite_diff_rel_step is None else check_step(
            finite_diff_rel_step, n, "finite_diff_rel_step")
        return FiniteDifference(jac, rel_step=rel)
    raise InputError(f"`{jac_name}` must be a callable, True, None (forward differences "
                     f"with step `{eps_name}`), '2-point' or '3-point'; got {jac!r}")


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


def solve(fun, x0, *, args: tuple = (), jac=None, callback=None, gtol=1e-5, norm=np.inf,
          eps=EPSILON, maxiter=None, disp=False, return_all=False, finite_diff_rel_step=None,
          c1=1e-4, c2=0.4, names=("fun", "jac", "eps"), halt_status: bool = True,
          require_problem: bool = False, require_finite_start: bool = False,
          comm=None) -> tuple[OptimizeResult, list[dict]]:
    """Check the arguments (on rank 0), share the evaluations over the ranks, and run CG.

    The one path behind :func:`mpicg.fit`, :func:`mpicg.fmin_cg` and :func:`mpicg.minimize`.

    Parameters
    ----------
    fun : callable or SumObjective
        A plain objective callable (under MPI the points of each batch are shared out over
        the ranks) or a :class:`~mpicg.problem.SumObjective` (each rank evaluates its own
        blocks of observations).
    x0, args, jac, callback, gtol, norm, eps, maxiter, disp, return_all,
    finite_diff_rel_step, c1, c2
        As in :func:`mpicg.minimize`.
    names : tuple of str
        How errors name the objective, the gradient and the step (scipy's names differ
        between ``fmin_cg`` and ``minimize``).
    halt_status : bool
        Report a callback's ``StopIteration`` as status 99 (``minimize``, ``fit``).
    require_problem : bool
        ``fun`` must be a SumObjective (``fit``).
    require_finite_start : bool
        A non-finite objective at ``x0`` is an error before any iteration.
    comm : mpi4py communicator, optional
        Where to run (default: the MPI world under ``mpirun``, else serially).

    Returns
    -------
    result, stats
        The result on every rank (with ``rounds``) and each rank's time accounting.
    """
    fun_name, jac_name, eps_name = names
    # With require_problem (fit), ranks other than 0 may pass None and receive their blocks
    # from rank 0: every rank must take the blocks path, or the ranks' collectives diverge.
    is_sum = require_problem or isinstance(fun, SumObjective)
    pair = _ValueAndGradient(fun, args) if jac is True else None
    ready: dict = {}

    def prepare() -> None:
        if require_problem and not isinstance(fun, SumObjective):
            raise InputError(f"`{fun_name}` must be an mpicg.Problem (or another "
                             f"SumObjective) on rank 0; got {type(fun).__name__}")
        if not is_sum:
            check_callable(fun, fun_name)
        ready["x0"] = x0c = check_x0(x0)
        if pair is not None:
            if is_sum:
                raise InputError(f"`{jac_name}=True` needs `{fun_name}` to return (f, g); "
                                 "a Problem has no analytic gradient")
            ready["gradient"] = pair.gradient
        elif isinstance(jac, FiniteDifference):  # a rule built by the caller (named fits)
            ready["gradient"] = jac
        elif callable(jac):
            ready["gradient"] = lambda x: jac(x, *args)
        else:
            ready["gradient"] = gradient_rule(jac, eps, finite_diff_rel_step, x0c.size,
                                              names=(jac_name, eps_name))
        check_cg_options(x0c, gtol, norm, maxiter, c1, c2, callback)

    def make_work(world, rank: int, size: int) -> Work:
        if is_sum:
            return distribute(fun, world, rank, size)
        if pair is not None:
            return PointWork(pair.value, (), fun_name, size, rank)
        return PointWork(fun, args, fun_name, size, rank)

    def root_task(evaluator: Evaluator) -> OptimizeResult:
        objective = BatchedObjective(evaluator, ready["x0"].size, ready["gradient"],
                                     gradient_name=jac_name)
        return minimize_cg(objective, ready["x0"], gtol=gtol, norm=norm, maxiter=maxiter,
                           c1=c1, c2=c2, callback=callback, return_all=return_all, disp=disp,
                           halt_status=halt_status,
                           require_finite_start=require_finite_start)

    return run_job(make_work, root_task, prepare, comm)
