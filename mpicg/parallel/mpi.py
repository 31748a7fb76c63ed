"""The MPI executor: rank 0 broadcasts each batch, every rank computes its share, rank 0 adds.

Protocol (every message a numpy buffer, no pickling on the hot path):

1. rank 0 broadcasts a header ``[command, m, n]``;
2. for ``EVAL``: rank 0 broadcasts the ``m x n`` batch; every rank, rank 0 included, computes
   its payload (:mod:`.sharing`) and a status flag; rank 0 gathers all payloads in rank order;
3. a rank whose model raised (any exception: ``SystemExit`` and ``KeyboardInterrupt``
   too) sends a failure flag in place of its sums; rank 0 then sends ``REPORT``, gathers
   what failed, and every rank raises the same error: bad input
   (:class:`~mpicg.errors.InputError`, e.g. a model returning the wrong shape) or
   :class:`~mpicg.errors.RemoteEvaluationError` naming the ranks with their tracebacks;
4. ``STOP`` ends the serve loop of the other ranks; ``ABORT`` ends it with an exit code and
   a message (rank 0 failed for its own reasons, e.g. a callback raised or the start check
   failed, or a signal stopped the fit).

Before any of this, :func:`run_collective` makes sure every rank arrived (the handshake)
and that every set-up step succeeded on every rank (collective verdicts, :mod:`.verdict`).

Waiting is done by polling non-blocking collectives with a short back-off, so that idle
ranks do not spin at 100 % CPU (ranks may share cores) and so the time spent waiting can be
measured per rank. Only this package imports mpi4py, and only when several ranks run.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import (
    EXIT_FAILURE,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    FitAborted,
    InputError,
    RemoteEvaluationError,
    exit_code_of,
    mark_collective,
    mark_copy,
)
from .base import Evaluator, JobOutcome, RankClock, compute_share
from .handshake import handshake
from .launcher import check_launch, guard_exits, install_abort_on_uncaught, launch_size
from .sharing import Work
from .signals import FitInterrupted, requested
from .verdict import agree, describe_failure, failure_message

__all__ = ["MPIEvaluator", "barrier", "collective_verdict", "get_world", "run_collective",
           "serve"]

EVAL, STOP, REPORT, ABORT = 1, 2, 3, 4
_ABORT_GRACE = 5.0  # seconds rank 0 waits for the others to take an ABORT before giving up


def get_world(comm=None):
    """The communicator to spread work over, or None to run serially.

    Parameters
    ----------
    comm : mpi4py communicator, optional
        Use this one. By default ``MPI.COMM_WORLD`` when the process was started as one of
        several ranks (read from the launcher's environment, so that mpi4py is not imported
        by serial runs) or when mpi4py is already initialized with several ranks.
    """
    if comm is None:
        size = launch_size()
        mpi = sys.modules.get("mpi4py.MPI")
        if (size is None or size < 2) and (mpi is None or not mpi.Is_initialized()):
            return None
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
        check_launch(comm.Get_size())
    if comm.Get_size() < 2:
        return None
    install_abort_on_uncaught()
    return comm


def barrier(comm=None) -> None:
    """Wait until every rank of the launch gets here (nothing to wait for when serial).

    It is a handshake (:func:`.handshake.handshake`): a rank that never arrives ends the
    job with a message naming it, instead of a wait for ever.
    """
    world = get_world(comm)
    if world is not None:
        handshake(world, "at a barrier")


def collective_verdict(error: BaseException | None, what: str, comm=None,
                       input_types: tuple = (InputError,)) -> None:
    """End a step that may have failed on some ranks of the launch (:func:`.verdict.agree`).

    Every rank calls it with its own error of the step (or None); either every rank goes
    on, or every rank raises the verdict's error (rank 0 reports it; the others raise quiet
    copies). Serially, ``error`` is simply raised.
    """
    agree(get_world(comm), error, what, input_types)


def _wait(request, clock: RankClock, deadline: float | None = None) -> bool:
    """Wait for a non-blocking request; spin briefly, then sleep with back-off."""
    t0 = time.perf_counter()
    spins, delay = 0, 2e-5
    try:
        while not request.Test():
            spins += 1
            if spins > 200:
                time.sleep(delay)
                delay = min(delay * 1.5, 1e-3)
            if deadline is not None and time.perf_counter() > deadline:
                return False
        return True
    finally:
        clock.waiting += time.perf_counter() - t0


def _compute(work: Work, points: np.ndarray, rank: int, size: int, clock: RankClock):
    """The payload of this rank and, if the model raised, what failed (a report dict)."""
    try:
        return compute_share(work, points, clock), None
    except BaseException as e:
        # KeyboardInterrupt included: report it and keep the protocol going, so that no
        # rank leaves while the others wait for its sums.
        payload = np.zeros(work.counts(len(points))[rank])
        return payload, describe_failure(e, rank, size)


class _Channel:
    """The collective calls both sides make, in the same order."""

    def __init__(self, comm, work: Work, clock: RankClock):
        self.comm, self.work, self.clock = comm, work, clock
        self.rank, self.size = comm.Get_rank(), comm.Get_size()

    def header(self, header: np.ndarray, deadline: float | None = None) -> bool:
        return _wait(self.comm.Ibcast(header, root=0), self.clock, deadline)

    def batch(self, points: np.ndarray) -> None:
        _wait(self.comm.Ibcast(points, root=0), self.clock)

    def exchange(self, points: np.ndarray):
        """Compute this rank's share and gather every payload and status at rank 0."""
        payload, error = _compute(self.work, points, self.rank, self.size, self.clock)
        send = np.append(payload, 1.0 if error else 0.0)
        counts = [c + 1 for c in self.work.counts(len(points))]
        if self.rank == 0:
            recv = np.empty(sum(counts))
            displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
            _wait(self.comm.Igatherv(send, [recv, counts, displs, _float64()], root=0),
                  self.clock)
            parts = np.split(recv, np.cumsum(counts)[:-1])
            return [p[:-1] for p in parts], [r for r, p in enumerate(parts) if p[-1]], error
        _wait(self.comm.Igatherv(send, None, root=0), self.clock)
        return None, None, error


def _float64():
    from mpi4py import MPI

    return MPI.DOUBLE


class MPIEvaluator(Evaluator):
    """Rank 0's evaluator: every batch is one collective round over all ranks.

    Parameters
    ----------
    comm : mpi4py communicator
        All ranks of the job; the others must be in :func:`serve`.
    work : Work
        What each rank computes and how payloads are assembled.
    clock : RankClock
        Rank 0's time accounting.
    """

    def __init__(self, comm, work: Work, clock: RankClock):
        self.channel = _Channel(comm, work, clock)
        self.open = True

    def evaluate(self, points: np.ndarray) -> np.ndarray:
        """Objective values of the batch, computed by all ranks in one round."""
        points = np.ascontiguousarray(points, dtype=np.float64)
        m, n = points.shape
        ch = self.channel
        ch.header(np.array([EVAL, m, n], dtype=np.int64))
        ch.batch(points)
        payloads, failed, error = ch.exchange(points)
        if failed:
            self._report(failed, error, m)
        return self.note_nan(ch.work, payloads, points, ch.work.assemble(payloads, points))

    def _report(self, failed: list[int], own_error: dict | None, m: int) -> None:
        ch = self.channel
        ch.header(np.array([REPORT, m, 0], dtype=np.int64))
        reports = ch.comm.gather(own_error, root=0)
        self.open = False
        verdict = _evaluation_verdict({r: reports[r] for r in failed}, ch.size, m)
        ch.comm.bcast(verdict, root=0)
        raise mark_collective(_evaluation_error(verdict))

    def stop(self) -> None:
        """End the other ranks' serve loops normally."""
        if self.open:
            self.channel.header(np.array([STOP, 0, 0], dtype=np.int64))
            self.open = False

    def abort(self, exit_code: int = EXIT_FAILURE, message: str = "") -> bool:
        """Tell the other ranks the fit ended on rank 0 (best effort, bounded in time).

        ``exit_code`` 75 (:data:`~mpicg.errors.EXIT_INTERRUPTED`) means a signal stopped
        the fit after a progress file was written, 2 bad input (the other ranks raise an
        :class:`InputError` with ``message``, as rank 0 does), anything else a failure.
        Returns False when some rank did not take the message in time (it is stuck or dead:
        only aborting the job ends it then).
        """
        if not self.open:
            return True
        self.open = False
        text = np.frombuffer(message.encode(), dtype=np.uint8).copy()
        deadline = time.perf_counter() + _ABORT_GRACE
        ch = self.channel
        return (ch.header(np.array([ABORT, exit_code, text.size], dtype=np.int64), deadline)
                and _wait(ch.comm.Ibcast(text, root=0), ch.clock, deadline))


def _evaluation_verdict(reports: dict[int, dict], size: int, m: int) -> dict:
    """What every rank raises after a failed evaluation round (built on rank 0)."""
    what = f"while evaluating a batch of {m} point{'s' if m > 1 else ''}"
    kind, message = failure_message(what, reports, size)
    if kind == "failure":  # the wording the README promises: the model raised on rank r
        ranks = sorted(r for r, d in reports.items() if d["kind"] == "failure")
        named = ("rank " if len(ranks) == 1 else "ranks ") + ", ".join(map(str, ranks))
        message = (f"the model raised on {named} (of {size}) {what}; every rank stops."
                   + message.split("every rank stops.", 1)[1])
    return {"kind": kind, "message": message, "ranks": sorted(reports),
            "texts": {r: d["text"] for r, d in reports.items()}}


def _evaluation_error(verdict: dict) -> Exception:
    if verdict["kind"] == "input":
        return InputError(verdict["message"])
    return RemoteEvaluationError(verdict["message"], verdict["ranks"], verdict["texts"])


def serve(comm, work: Work, clock: RankClock) -> None:
    """The loop of ranks other than 0: compute shares of batches until told to stop.

    Raises
    ------
    InputError, RemoteEvaluationError
        Quiet copies (:func:`~mpicg.errors.mark_copy`) of the error rank 0 raises when an
        evaluation failed on some rank, or when rank 0 found bad input (the start check).
    FitInterrupted
        A signal stopped the fit (rank 0 wrote the progress file).
    FitAborted
        The fit failed on rank 0 for its own reasons (a callback raised, say).
    """
    ch = _Channel(comm, work, clock)
    header = np.empty(3, dtype=np.int64)
    last_error = None
    while True:
        ch.header(header)
        command, m, n = (int(v) for v in header)
        if command == EVAL:
            points = np.empty((m, n))
            ch.batch(points)
            _, _, error = ch.exchange(points)
            last_error = error or last_error
        elif command == REPORT:
            comm.gather(last_error, root=0)
            raise mark_copy(_evaluation_error(comm.bcast(None, root=0)))
        elif command == ABORT:
            text = np.empty(n, dtype=np.uint8)
            _wait(comm.Ibcast(text, root=0), clock)
            message = text.tobytes().decode(errors="replace")
            if m == EXIT_INTERRUPTED:
                raise mark_copy(FitInterrupted(requested() or signal.SIGTERM))
            if m == EXIT_INPUT:
                raise mark_copy(InputError(message))
            raise FitAborted(code=m)
        else:
            return


def run_collective(comm, make_work: Callable[[int, int], Work],
                   root_task: Callable[[Evaluator], Any],
                   prepare: Callable[[], None] | None = None,
                   local_error: BaseException | None = None) -> JobOutcome:
    """Run ``root_task`` on rank 0 with every rank serving its evaluations.

    Every rank calls this with the same arguments. Every step that can fail on some ranks
    only ends with a collective verdict (:func:`.verdict.agree`), so an error is raised at
    the same point on every rank and no rank leaves while another waits:

    0. the handshake: every rank arrives, or rank 0 names those that did not and ends the
       job (:func:`.handshake.handshake`);
    1. ``local_error``, an error a rank met in its own set-up before the call (bad data,
       say), and ``prepare()`` on rank 0 (argument checks); a signal noted by then stops
       every rank (exit code 75; nothing to save yet);
    2. ``make_work(rank, size)`` on every rank (data set-up, possibly collective);
    3. rank 0 runs ``root_task(evaluator)``; the others serve until it ends. While it runs,
       a rank that calls ``os._exit`` ends the whole job with exit code 1
       (:func:`.launcher.guard_exits`).

    Returns
    -------
    JobOutcome
        ``root_task``'s result and each rank's :class:`~.base.RankStats`, on every rank.
    """
    rank, size = comm.Get_rank(), comm.Get_size()
    clock = RankClock()
    error = local_error
    if rank == 0 and prepare is not None and error is None:
        try:
            prepare()
        except BaseException as e:
            error = e
    input_types = (InputError, TypeError, ValueError)  # argument checks raise these too
    agree(comm, error, "at the start of the fit", input_types)

    work = None
    try:
        work = make_work(rank, size)
    except BaseException as e:
        error = e
    agree(comm, error, "while sharing out the work", input_types)

    result = None
    with guard_exits(comm):
        if rank == 0:
            evaluator = MPIEvaluator(comm, work, clock)
            try:
                result = root_task(evaluator)
            except FitInterrupted:
                evaluator.abort(exit_code=EXIT_INTERRUPTED)
                raise
            except InputError as e:  # the start check: bad input, on every rank
                if evaluator.abort(exit_code=EXIT_INPUT, message=str(e)):
                    mark_collective(e)
                raise
            except BaseException as e:
                # Rank 0 failed on its own (a callback, say): the others leave non-zero,
                # even when rank 0's own exit status is 0 (a callback's sys.exit()).
                code = exit_code_of(e)
                evaluator.abort(exit_code=EXIT_FAILURE if code in (0, EXIT_INPUT) else code)
                raise
            evaluator.stop()
        else:
            serve(comm, work, clock)
    stats = comm.gather(clock.summary(), root=0)
    result, stats = comm.bcast((result, stats), root=0)
    return JobOutcome(result, stats)
