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
from .signals import catch_signals, requested

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
          progress_every_niters: int = 0, progress_file=None, resume=None,
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
    progress_every_niters : int
        Write a progress file every so many iterations (0: never).
    progress_file : str or path
        Where (see :mod:`mpicg.checkpoint`).
    resume : str or path, optional
        Continue from a progress file: its state and its options (the trajectory depends on
        them) replace ``x0`` and the CG options given here.
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
        ready["cg"] = {"gtol": gtol, "norm": norm, "maxiter": maxiter, "c1": c1, "c2": c2}
        if progress_every_niters or resume is not None or progress_file is not None:
            _prepare_progress(ready, fun, progress_every_niters, progress_file, resume)
            if resume is not None:
                return
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
        ready["cg"] = check_cg_options(x0c, gtol, norm, maxiter, c1, c2, callback)
        if progress_file is not None:
            _progress_record(ready, fun)

    def make_work(world, rank: int, size: int) -> Work:
        if is_sum:
            return distribute(fun, world, rank, size)
        if pair is not None:
            return PointWork(pair.value, (), fun_name, size, rank)
        return PointWork(fun, args, fun_name, size, rank)

    def root_task(evaluator: Evaluator) -> OptimizeResult:
        objective = BatchedObjective(evaluator, ready["x0"].size, ready["gradient"],
                                     gradient_name=jac_name)
        return minimize_cg(objective, ready["x0"], **ready["cg"], callback=callback,
                           return_all=return_all, disp=disp, halt_status=halt_status,
                           require_finite_start=require_finite_start,
                           resume=ready.get("checkpoint"), progress=ready.get("progress"),
                           progress_every=progress_every_niters,
                           interrupt=requested if progress_file is not None else None)

    # With a progress file, a batch system's signal means "checkpoint and exit 75".
    with catch_signals(enabled=progress_file is not None):
        return run_job(make_work, root_task, prepare, comm)


def _fd_record(rule: FiniteDifference, n: int) -> dict:
    """The finite-difference rule as plain values for a progress file."""
    def as_array(value):
        return None if value is None else np.broadcast_to(
            np.asarray(value, dtype=float), (n,)).copy()

    return {"method": rule.method, "abs_step": as_array(rule.abs_step),
            "rel_step": as_array(rule.rel_step)}


def _prepare_progress(ready: dict, problem, every, path, resume) -> None:
    """Rank 0: check the progress options; load and verify the file to resume from."""
    from .checkpoint import (
        Checkpoint,
        check_fingerprint,
        load_checkpoint,
        problem_fingerprint,
        save_checkpoint,
    )

    if not isinstance(problem, SumObjective):
        raise InputError("progress files need an mpicg.Problem (use mpicg.fit)")
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise InputError(f"`progress_every_niters` must be an integer >= 0; got {every!r}")
    if every and path is None:
        raise InputError("`progress_file` must name a file when progress_every_niters > 0")
    if resume is not None:
        checkpoint = load_checkpoint(resume)
        fingerprint = problem_fingerprint(problem, checkpoint.state.x.size)
        check_fingerprint(checkpoint, fingerprint, resume)
        fd = checkpoint.options["fd"]
        ready.update(
            checkpoint=checkpoint, x0=checkpoint.state.x, record=checkpoint.options,
            fingerprint=fingerprint,
            gradient=FiniteDifference(fd["method"], abs_step=fd["abs_step"],
                                      rel_step=fd["rel_step"]),
            cg={k: checkpoint.options[k] for k in ("gtol", "norm", "maxiter", "c1", "c2")})
    if path is not None:
        def write(state, counters, memory, fun_initial, allvecs) -> None:
            save_checkpoint(path, Checkpoint(state=state, counters=counters, memory=memory,
                                             fun_initial=fun_initial, options=ready["record"],
                                             fingerprint=ready["fingerprint"],
                                             allvecs=allvecs))

        write.path = str(path)
        ready["progress"] = write


def _progress_record(ready: dict, problem) -> None:
    """Rank 0, fresh run with progress files: what a progress file stores of the options."""
    from .checkpoint import problem_fingerprint

    rule = ready["gradient"]
    if not isinstance(rule, FiniteDifference):
        raise InputError("progress files need finite-difference gradients")
    n = ready["x0"].size

    def as_array(value):
        return None if value is None else np.broadcast_to(
            np.asarray(value, dtype=float), (n,)).copy()

    ready["record"] = {**ready["cg"], "fd": {"method": rule.method,
                                             "abs_step": as_array(rule.abs_step),
                                             "rel_step": as_array(rule.rel_step)}}
    ready["fingerprint"] = problem_fingerprint(problem, n)
