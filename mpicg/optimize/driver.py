"""Run Polak–Ribière+ CG on a batched objective and report the way scipy does.

Shared by the scipy drop-ins and by :func:`mpicg.fit`: the user callback
(``callback(xk)`` or ``callback(intermediate_result=...)``, ``StopIteration`` to halt),
progress lines and progress files, scipy's ``disp`` summary, and the result object. The
options arrive checked (:func:`~mpicg.optimize._checks.check_cg_options`, once, by the
entry point).
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable

import numpy as np

from ._checks import InputError
from .cg import CGState, initial_state, run_cg
from .objective import BatchedObjective
from .result import OptimizeResult, warn_unsuccessful

__all__ = ["LOG", "STOPPED_BY_CALLBACK", "minimize_cg"]

STOPPED_BY_CALLBACK = "`callback` raised `StopIteration`."

#: Progress lines (one per iteration, INFO level) go here; quiet unless configured, e.g.
#: ``logging.basicConfig(level=logging.INFO)``. Only rank 0 runs the optimizer, so only rank
#: 0 logs.
LOG = logging.getLogger("mpicg")


def _callback_hook(callback: Callable | None):
    """Turn a user callback into ``hook(state) -> halt``, as scipy calls callbacks."""
    if callback is None:
        return None
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


def _log_iteration(state: CGState, objective: BatchedObjective, clock: dict,
                   annotate: Callable[[], dict] | None = None) -> None:
    """One progress line per iteration on the ``mpicg`` logger (rank 0 only runs this).

    The record also carries the numbers as ``record.mpicg_progress`` (a dict: iteration,
    fun, gnorm, step, nfev, njev, rounds, seconds_per_round, and what ``annotate`` adds),
    for handlers that keep a history (:mod:`mpicg.cli.history`) rather than parse the text.
    """
    extra = annotate() if annotate is not None else {}  # read every iteration: "since last"
    if not LOG.isEnabledFor(logging.INFO):
        return
    now = time.perf_counter()
    rounds = objective.rounds - clock["rounds"]
    step = float(np.linalg.norm(state.x - clock["x"]))
    per_round = (now - clock["t"]) / rounds if rounds else float("nan")
    numbers = {"iteration": int(state.k), "fun": float(state.f), "gnorm": float(state.gnorm),
               "step": step, "nfev": int(objective.nfev), "njev": int(objective.njev),
               "rounds": int(objective.rounds), "seconds_per_round": per_round, **extra}
    LOG.info("iter %4d  -ln p %.10g  |g| %.3e  step %.3e  model evaluations %d  "
             "%.3f s/round" + "  %s %.3g" * len(extra), state.k, state.f, state.gnorm, step,
             objective.nfev, per_round, *(v for item in extra.items() for v in item),
             extra={"mpicg_progress": numbers})
    clock.update(t=now, rounds=objective.rounds, x=state.x)


def minimize_cg(objective: BatchedObjective, x0: np.ndarray, *, gtol: float, norm: float,
                maxiter: int, c1: float, c2: float, callback: Callable | None = None,
                return_all: bool = False, disp: bool = False, halt_status: bool = True,
                require_finite_start: bool = False, resume=None,
                progress: Callable | None = None, progress_every: int = 0,
                interrupt: Callable[[], BaseException | None] | None = None,
                annotate: Callable[[], dict] | None = None) -> OptimizeResult:
    """Run Polak–Ribière+ CG on a batched objective and report as scipy does.

    Parameters
    ----------
    objective : BatchedObjective
        Values and gradients (counts are read from it).
    x0 : ndarray
        The starting point (already checked: 1-D, finite, float64).
    gtol, norm, maxiter, c1, c2 : float, float, int, float, float
        As in :func:`fmin_cg` / :func:`minimize`, already checked
        (:func:`~mpicg.optimize._checks.check_cg_options`; ``maxiter`` resolved).
    callback, return_all, disp
        As in :func:`fmin_cg` / :func:`minimize`.
    halt_status : bool, optional
        Report a callback's ``StopIteration`` as status 99 (``minimize``); when False the
        warnflag is kept (``fmin_cg``).
    require_finite_start : bool, optional
        Raise :class:`~mpicg.errors.InputError` before any iteration when the objective is
        not finite at ``x0`` (scipy would iterate and report NaN or precision loss).
    resume : Checkpoint, optional
        Continue from a progress file's state (``x0`` is then ignored).
    progress : callable, optional
        ``progress(state, counters, memory, fun_initial, allvecs)``, called every
        ``progress_every`` iterations (and never when that is 0) to write a progress file,
        and once more at the end when the last iteration was not one of those: a fit that
        stopped at ``maxiter`` can be resumed with a higher one.
    interrupt : callable, optional
        ``interrupt() -> exception or None``, asked after every iteration (a safe point: the
        state is complete). When it returns an exception (a batch system's signal is
        pending: :class:`~mpicg.parallel.signals.FitInterrupted`), the progress file is
        written and the exception raised.
    annotate : callable, optional
        ``annotate() -> dict``, called once after every iteration (and after the start),
        whether progress is logged or not: numbers about the evaluations since its last call
        (e.g. the ranks' imbalance), added to the iteration's progress line and record.

    Returns
    -------
    OptimizeResult
        scipy's fields, plus ``rounds`` (collective evaluation rounds) and ``fun_initial``
        (the objective at ``x0``).
    """
    hook = _callback_hook(callback)

    started = time.perf_counter()
    if resume is not None:
        state, fun_initial = resume.state, resume.fun_initial
        objective.restore(resume.counters, resume.memory)
        allvecs = list(resume.allvecs) if (return_all and resume.allvecs) else None
    else:
        state = initial_state(objective, x0, norm)
        if require_finite_start and not np.isfinite(state.f):
            raise InputError(f"the objective is not finite at the start x0 = {x0.tolist()}: "
                             f"{state.f!r}. Check the starting values against the priors' "
                             "supports and the model's validity.")
        fun_initial = state.f
        allvecs = [state.x] if return_all else None

    # Rounds so far: the start's (none on resume, whose counters are restored).
    clock = {"t": started, "rounds": 0 if resume is None else objective.rounds, "x": state.x}
    if resume is None:  # the start as "iteration 0", so a history begins at x0
        _log_iteration(state, objective, clock, annotate)

    def on_iteration(new_state) -> bool:
        _log_iteration(new_state, objective, clock, annotate)
        stop = interrupt() if interrupt is not None else None
        due = progress_every and new_state.k % progress_every == 0
        if progress is not None and (due or stop is not None):
            counters, memory = objective.snapshot()
            progress(new_state, counters, memory, fun_initial, allvecs)
        # The iteration is complete: the callback sees it (a history keeps its row) even
        # when a stop request ends the run here.
        halted = hook(new_state) if hook is not None else False
        if stop is not None and not halted:  # a callback's halt ends the run as it would
            raise stop
        return halted

    outcome = run_cg(objective, state, gtol=gtol, norm=norm, maxiter=maxiter, c1=c1, c2=c2,
                     on_iteration=on_iteration, return_all=return_all, allvecs=allvecs)
    final = outcome.state
    if progress is not None and progress_every and final.k % progress_every:
        counters, memory = objective.snapshot()
        progress(final, counters, memory, fun_initial, outcome.allvecs)
    if disp:
        if outcome.warnflag == 0:
            print(outcome.message)
        else:
            warn_unsuccessful(outcome.message)
        print(f"         Current function value: {final.f:f}")
        print(f"         Iterations: {final.k:d}")
        print(f"         Function evaluations: {objective.nfev:d}")
        print(f"         Gradient evaluations: {objective.njev:d}")
    res = OptimizeResult(fun=final.f, jac=final.g, nfev=objective.nfev, njev=objective.njev,
                         status=outcome.warnflag, success=outcome.warnflag == 0,
                         message=outcome.message, x=final.x, nit=final.k)
    if return_all:
        res["allvecs"] = outcome.allvecs
    if outcome.halted and halt_status:
        res.update(status=99, success=False, message=STOPPED_BY_CALLBACK)
    res["rounds"] = objective.rounds
    res["fun_initial"] = fun_initial
    return res
