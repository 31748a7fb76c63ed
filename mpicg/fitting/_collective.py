"""The one path from arguments to a finished CG run, serial or over MPI ranks.

:func:`collective_cg` is what every entry point runs: :func:`mpicg.fit`,
:func:`mpicg.optimizer_cg`, :func:`mpicg.fmin_cg` and :func:`mpicg.minimize`. Arguments are
checked once, on rank 0 (an error is raised once), the work is shared out (by points for a
plain callable, by points x blocks of observations for a sum objective), and rank 0 runs the
optimizer while every rank evaluates. With one rank it is the serial run.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..optimize import (
    DEFAULT_C1,
    DEFAULT_C2,
    EPSILON,
    BatchedObjective,
    ComplexStep,
    FiniteDifference,
    OptimizeResult,
    ValueAndGradient,
    check_callable,
    check_cg_options,
    check_maxiter,
    check_step,
    check_x0,
    gradient_rule,
    minimize_cg,
    warn_at_user,
)
from ..parallel import (
    Evaluator,
    FitInterrupted,
    JobOutcome,
    PointWork,
    Work,
    catch_signals,
    check_sharing,
    distribute,
    is_root,
    requested,
    run_job,
)
from ._agreement import describe, disagreements, is_sum_kind
from .problem import SumObjective

__all__ = ["collective_cg", "with_statistics"]

NAN_STATUS = 3  # scipy's warnflag: "NaN result encountered."
PRECISION_LOSS = 2  # scipy's warnflag: the line search failed
STOPPED_BY_NAN = (PRECISION_LOSS, NAN_STATUS)


def collective_cg(fun, x0, *, args: tuple = (), jac=None, callback=None, gtol=1e-5,
                  norm=np.inf, eps=EPSILON, maxiter=None, disp=False, return_all=False,
                  finite_diff_rel_step=None, c1=DEFAULT_C1, c2=DEFAULT_C2,
                  names=("fun", "jac", "eps"), workers=None, as_scipy: bool = False,
                  halt_status: bool = True, require_problem: bool = False,
                  require_finite_start: bool = False, progress_every_niters: int = 0,
                  progress_file=None, resume=None, sharing: str = "auto", comm=None,
                  session=None, local_error: BaseException | None = None) -> JobOutcome:
    """Check the arguments (on rank 0), share the evaluations over the ranks, and run CG.

    Every rank calls it (a collective call); with one rank it runs serially.

    Parameters
    ----------
    fun : callable or SumObjective
        A plain objective callable (under MPI the points of each batch are shared out over
        the ranks) or a :class:`~.problem.SumObjective` (each rank evaluates its part of each
        batch's grid of points x blocks of observations).
    x0, args, jac, callback, gtol, norm, eps, maxiter, disp, return_all,
    finite_diff_rel_step, c1, c2
        As in :func:`mpicg.minimize`; ``jac`` may also be a
        :class:`~mpicg.optimize.FiniteDifference` rule built by the caller (named fits).
    names : tuple of str
        How errors name the objective, the gradient and the step (scipy's names differ
        between ``fmin_cg`` and ``minimize``).
    workers : callable, optional
        scipy's ``workers``: a map-like callable, ``workers(f, points)``, for the points of
        finite-difference gradients of a plain callable in a serial run (under MPI the
        ranks share the points instead), and for ``jac='cs'``'s complex points.
    as_scipy : bool
        scipy's argument semantics (the drop-ins): any number as ``maxiter``; ``c1``, ``c2``
        checked at the first line search; ``jac='cs'``.
    halt_status : bool
        Report a callback's ``StopIteration`` as status 99 (``minimize``, ``fit``).
    require_problem : bool
        ``fun`` must be a SumObjective (``fit``).
    require_finite_start : bool
        A non-finite objective at ``x0`` is an error before any iteration.
    progress_every_niters : int
        Write a progress file every so many iterations (0: never).
    progress_file : str or path
        Where (see :mod:`.checkpoint`).
    resume : str or path, optional
        Continue from a progress file: its state and its options (the trajectory depends on
        them) replace ``x0`` and the CG options given here, except ``maxiter`` when it is
        given (not None): a resumed fit may go on longer (or stop sooner) than the stored
        one; the trajectory up to there is the same.
    sharing : {'auto', 'blocks', 'points'}
        How a sum objective's batches are shared among ranks (see
        :data:`mpicg.parallel.SHARINGS`); a plain callable's points are always shared out.
    comm : mpi4py communicator, optional
        Where to run (default: the MPI world under ``mpirun``, else serially).
    session : NamedSession, optional
        A named fit's work on rank 0 around the CG run (:mod:`._session`): scales before
        the first iteration (the run is then in scaled variables, and progress files keep
        the scales), uncertainties and the diagnosis after the last.
    local_error : BaseException, optional
        An error the caller met in its own set-up on this rank (bad data, say): raised on
        every rank, at the start, by the collective verdict, so no rank is left waiting.

    Returns
    -------
    JobOutcome
        The :class:`~mpicg.optimize.OptimizeResult` (with ``rounds``, ``fun_initial``, the
        :class:`~mpicg.parallel.BalanceReport`'s fields and ``options``: the CG and
        finite-difference options the run used, the stored ones when resuming) on every
        rank, and each rank's time accounting.
    """
    fun_name, jac_name, eps_name = names
    # (rank 0's checks; which path the ranks take is rank 0's objective's: see make_work)
    is_sum = require_problem or isinstance(fun, SumObjective)
    pair = ValueAndGradient(fun, args) if jac is True else None
    ready: dict = {}

    def prepare() -> None:
        if require_problem and not isinstance(fun, SumObjective):
            raise InputError(f"`{fun_name}` must be an mpicg.Problem (or another "
                             f"SumObjective) on rank 0; got {type(fun).__name__}")
        if not is_sum:
            check_callable(fun, fun_name)
        elif args:
            raise InputError(f"`args` go to an objective callable, fun(x, *args); a Problem's "
                             f"model takes (x, times) only; got args={args!r:.100}")
        check_sharing(sharing)
        if progress_every_niters or resume is not None or progress_file is not None:
            _prepare_progress(ready, fun, progress_every_niters, progress_file, resume)
            if resume is not None:
                if session is not None:
                    session.check_resume(ready["checkpoint"])
                if maxiter is not None:  # the one option a resumed fit may change
                    done = ready["checkpoint"].state.k
                    value = check_maxiter(maxiter, ready["x0"].size)
                    if value != ready["cg"]["maxiter"] and value <= done:
                        raise InputError(
                            f"`maxiter` = {maxiter} is not above the {done} iterations "
                            f"the progress file {str(resume)!r} has already done: a "
                            "resumed fit can only go on (give a larger maxiter, or none)")
                    ready["cg"]["maxiter"] = ready["record"]["maxiter"] = value
                _note_kept_options(ready["cg"], resume, gtol=gtol, norm=norm, c1=c1, c2=c2)
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
        elif isinstance(jac, str) and jac == "cs":
            if is_sum or not as_scipy:
                raise InputError(f"`{jac_name}`='cs' (the complex step) needs an objective "
                                 "callable that takes complex x (mpicg.minimize); a Problem "
                                 "computes real chi-squares")
            rel = None if finite_diff_rel_step is None else check_step(
                finite_diff_rel_step, x0c.size, "finite_diff_rel_step")
            ready["gradient"] = ComplexStep(fun, args, rel_step=rel, mapper=workers)
        else:
            ready["gradient"] = gradient_rule(jac, eps, finite_diff_rel_step, x0c.size,
                                              names=(jac_name, eps_name))
        ready["cg"] = check_cg_options(x0c, gtol, norm, maxiter, c1, c2, callback,
                                       as_scipy=as_scipy)
        if progress_file is not None and session is None:  # a session's: once it has scales
            _progress_record(ready, fun)

    def make_work(world, rank: int, size: int) -> Work:
        # Rank 0's objective decides how every rank shares the work: a rank that took the
        # other path would wait in collectives that the others never call.
        # Only rank 0's arguments are used: a rank that gives others (a script whose ranks
        # went their own ways) is bad input, unless it passed None for a Problem, which it
        # then takes from rank 0 with rank 0's arguments.
        leading = (() if session is None
                   else (("fit_parameters", repr(list(session.names))),))
        mine = describe(fun, pair, jac_name, x0, args=args, leading=leading, gtol=gtol,
                        norm=norm, maxiter=maxiter, c1=c1, c2=c2, sharing=sharing,
                        resume=resume, progress_every_niters=progress_every_niters)
        described = [mine] if world is None else world.allgather(mine)
        wrong = disagreements(described, fun_name)
        if wrong:
            if rank in wrong:
                raise InputError(wrong[rank])
            return None  # the verdict that follows raises the other rank's error everywhere
        if is_sum_kind(described[0]):
            return distribute(fun, world, rank, size, sharing)
        if pair is not None:
            return PointWork(pair.value, (), fun_name)
        # scipy uses `workers` for finite-difference points only; under MPI the ranks share
        # every batch's points instead.
        finite_differences = jac is None or jac is False or jac in ("2-point", "3-point")
        mapper = workers if (size == 1 and finite_differences) else None
        return PointWork(fun, args, fun_name, mapper=mapper)

    def interrupt() -> FitInterrupted | None:
        signum = requested()
        return None if signum is None else FitInterrupted(signum, str(progress_file))

    def root_task(evaluator: Evaluator) -> OptimizeResult:
        shared = evaluator  # every rank's evaluator (a session wraps it in scaled variables)
        if session is not None:
            evaluator, ready["x0"], ready["gradient"], scaling = session.start(evaluator, ready)
            if progress_file is not None and "checkpoint" not in ready:
                _progress_record(ready, fun, scaling)
                ready["record"]["scaling"] = scaling
        objective = BatchedObjective(evaluator, ready["x0"].size, ready["gradient"],
                                     gradient_name=jac_name)
        try:
            result = minimize_cg(objective, ready["x0"], **ready["cg"], callback=callback,
                                 return_all=return_all, disp=disp, halt_status=halt_status,
                                 require_finite_start=require_finite_start,
                                 resume=ready.get("checkpoint"),
                                 progress=ready.get("progress"),
                                 progress_every=progress_every_niters,
                                 interrupt=interrupt if progress_file is not None else None,
                                 annotate=shared.end_iteration)
        except InputError as e:  # the start check: say where a NaN (or an inf) came from
            note = shared.nan_note or shared.inf_note
            if note is None:
                raise
            raise InputError(f"{e} ({note})") from None
        # Say where a NaN came from; the scipy drop-ins keep scipy's message as it is. A
        # NaN in a line-search trial ends the search as scipy's does (status 2, precision
        # loss), one in a gradient with status 3: which of them a NaN meets first depends
        # on the round it falls in, so both say where it came from. An infinite value
        # before any NaN is named first where it is the likely cause: a NaN result (a
        # gradient's inf - inf), or a gradient left infinite. (An infinite line-search
        # trial alone is routine: the search backs off from it.)
        infinite_end = (result.status == NAN_STATUS
                        or not np.all(np.isfinite(np.asarray(result.jac, dtype=float))))
        notes = [n for n in (shared.inf_note if shared.inf_first and infinite_end else None,
                             shared.nan_note) if n]
        if result.status in STOPPED_BY_NAN and notes and require_problem:
            result["message"] = f"{result.message} ({'; then '.join(notes)})"
        if session is not None:
            # The diagnosis judges the run by the options it ran with (a resumed fit's are
            # the progress file's).
            session.gtol, session.norm, session.maxiter = (
                ready["cg"][k] for k in ("gtol", "norm", "maxiter"))
            result = session.finish(evaluator, result)
        balance = shared.balance()
        if balance is not None:
            result.update(balance.as_dict())
        result["options"] = dict(ready["cg"], fd=ready.get("record", {}).get("fd"))
        return result

    # With a progress file, a batch system's signal means "checkpoint and exit 75". The
    # other ranks of an MPI fit always note signals and pass them on to rank 0, which
    # stops the fit with its progress file, or, without one, takes the signal as if it
    # had come to it (signals.note_signal): a rank never acts on its own copy of the
    # arguments (progress_file given on rank 0 only killed the others with the signal).
    with catch_signals(enabled=progress_file is not None or not is_root(comm)):
        return run_job(make_work, root_task, prepare, comm, local_error)


def _note_kept_options(stored: dict, resume, **given) -> None:
    """Warn (rank 0) of CG options given with ``resume`` that differ from the file's.

    A resumed fit keeps the options it started with (its trajectory depends on them); an
    option left at its default says nothing.
    """
    defaults = {"gtol": 1e-5, "norm": np.inf, "c1": DEFAULT_C1, "c2": DEFAULT_C2}
    ignored = []
    for name, value in given.items():
        try:
            if float(value) not in (float(defaults[name]), float(stored[name])):
                ignored.append(f"{name}={value!r} (the file's: {stored[name]!r})")
        except (TypeError, ValueError):
            ignored.append(f"{name}={value!r:.40} (the file's: {stored[name]!r})")
    if ignored:
        warn_at_user(f"resuming from {str(resume)!r}: a resumed fit keeps the options it "
                     f"started with; ignored {', '.join(ignored)} (only maxiter may change)")


def with_statistics(outcome: JobOutcome) -> OptimizeResult:
    """The result with each rank's time accounting added (what :func:`mpicg.fit` returns)."""
    res = OptimizeResult(outcome.result)
    stats = outcome.stats
    res["n_ranks"] = len(stats)
    res["time_model"] = [s.model for s in stats]
    res["time_waiting"] = [s.waiting for s in stats]
    res["rank_rounds"] = [s.rounds for s in stats]
    res["wall_time"] = stats[0].total
    return res


def _prepare_progress(ready: dict, problem, every, path, resume) -> None:
    """Rank 0: check the progress options; load and verify the file to resume from."""
    from .checkpoint import Checkpoint, check_fingerprint, load_checkpoint, save_checkpoint
    from .fingerprint import problem_fingerprint

    if not isinstance(problem, SumObjective):
        raise InputError("progress files need an mpicg.Problem (use mpicg.fit)")
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise InputError(f"`progress_every_niters` must be an integer >= 0; got {every!r}")
    if every and path is None:
        raise InputError("`progress_file` must name a file when progress_every_niters > 0")
    if path is not None:  # checked now, not at the first write (which may be hours away)
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            raise InputError(f"`progress_file` must be a file's path; got {path!r}")
        folder = Path(path).parent
        if Path(path).is_dir():
            raise InputError(f"`progress_file` {str(path)!r} is a directory; give a file's "
                             "path in it")
        if not folder.is_dir():
            raise InputError(f"`progress_file` {str(path)!r}: its directory {str(folder)!r} "
                             "does not exist")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(f"`progress_file` {str(path)!r}: its directory {str(folder)!r} "
                             "is not writable")
    if resume is not None:
        checkpoint = load_checkpoint(resume)
        fingerprint = problem_fingerprint(problem, checkpoint.state.x.size,
                                          checkpoint.options.get("scaling"))
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

        ready["progress"] = write


def _progress_record(ready: dict, problem, scaling: dict | None = None) -> None:
    """Rank 0, fresh run with progress files: what a progress file stores of the options.

    A named fit's ``scaling`` (its scales, offsets and their sources) is part of the
    fingerprint: the state is in scaled variables.
    """
    from .fingerprint import problem_fingerprint

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
    ready["fingerprint"] = problem_fingerprint(problem, n, scaling)
