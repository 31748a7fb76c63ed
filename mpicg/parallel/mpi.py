"""The MPI executor: rank 0 broadcasts each batch, every rank computes its share, rank 0 adds.

Protocol (every message a numpy buffer, no pickling on the hot path):

1. rank 0 broadcasts a header ``[command, m, n]``;
2. for ``EVAL``: rank 0 broadcasts the ``m x n`` batch; every rank, rank 0 included, computes
   its payload (:mod:`.sharing`) and a status flag; rank 0 gathers all payloads in rank order;
3. a rank whose model raised sends a failure flag in place of its sums; rank 0 then sends
   ``REPORT``, gathers the tracebacks, raises :class:`~mpicg.errors.RemoteEvaluationError`
   naming the ranks, and the other ranks leave with :class:`~mpicg.errors.FitAborted`;
4. ``STOP`` ends the serve loop of the other ranks; ``ABORT`` ends it with an error (rank 0
   failed for its own reasons, e.g. a callback raised).

Waiting is done by polling non-blocking collectives with a short back-off, so that idle
ranks do not spin at 100 % CPU (ranks may share cores) and so the time spent waiting can be
measured per rank. Only this package imports mpi4py, and only when several ranks run.
"""

from __future__ import annotations

import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import EXIT_INPUT, FitAborted, InputError, RemoteEvaluationError
from .base import Evaluator, JobOutcome, RankClock, compute_share
from .launcher import install_abort_on_uncaught, launch_size
from .sharing import Work
from .signals import EXIT_INTERRUPTED, FitInterrupted, requested

__all__ = ["MPIEvaluator", "barrier", "get_world", "run_collective", "serve"]

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
    if comm.Get_size() < 2:
        return None
    install_abort_on_uncaught()
    return comm


def barrier(comm=None) -> None:
    """Wait until every rank of the launch gets here (nothing to wait for when serial)."""
    world = get_world(comm)
    if world is not None:
        world.Barrier()


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
    """The payload of this rank and, if the model raised, the remote traceback text."""
    try:
        return compute_share(work, points, clock), None
    except Exception:  # the model's own error: report it, keep the protocol going
        payload = np.zeros(work.counts(len(points))[rank])
        error = (f"Traceback from rank {rank} of {size} on {socket.gethostname()}:\n"
                 + traceback.format_exc())
        return payload, error


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
        return ch.work.assemble(payloads, points)

    def _report(self, failed: list[int], own_error: str | None, m: int) -> None:
        ch = self.channel
        ch.header(np.array([REPORT, 0, 0], dtype=np.int64))
        tracebacks = ch.comm.gather(own_error, root=0)
        self.open = False
        texts = {r: tracebacks[r] for r in failed}
        names = ", ".join(str(r) for r in failed)
        plural = "s" if len(failed) > 1 else ""
        message = (f"the model raised on rank{plural} {names} (of {ch.size}) while "
                   f"evaluating a batch of {m} point{'s' if m > 1 else ''}; every rank "
                   f"stops.\n\n" + "\n".join(texts[r] for r in failed))
        raise RemoteEvaluationError(message, failed, texts)

    def stop(self) -> None:
        """End the other ranks' serve loops normally."""
        if self.open:
            self.channel.header(np.array([STOP, 0, 0], dtype=np.int64))
            self.open = False

    def abort(self, exit_code: int = 1) -> None:
        """Tell the other ranks the fit ended on rank 0 (best effort, bounded in time).

        ``exit_code`` 75 (:data:`~.signals.EXIT_INTERRUPTED`) means a signal stopped
        the fit after a progress file was written; anything else is a failure.
        """
        if self.open:
            self.open = False
            self.channel.header(np.array([ABORT, exit_code, 0], dtype=np.int64),
                                deadline=time.perf_counter() + _ABORT_GRACE)


def serve(comm, work: Work, clock: RankClock) -> None:
    """The loop of ranks other than 0: compute shares of batches until told to stop.

    Raises
    ------
    FitAborted
        When the fit ends in an error (reported by rank 0).
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
            raise FitAborted("the model failed (see rank 0's error)")
        elif command == ABORT:
            if m == EXIT_INTERRUPTED:
                raise FitInterrupted(requested() or signal.SIGTERM)
            raise FitAborted()
        else:
            return


def run_collective(comm, make_work: Callable[[int, int], Work],
                   root_task: Callable[[Evaluator], Any],
                   prepare: Callable[[], None] | None = None) -> JobOutcome:
    """Run ``root_task`` on rank 0 with every rank serving its evaluations.

    Every rank calls this with the same arguments. The steps are collective, so that an error
    is raised once, on rank 0, and every other rank leaves with :class:`FitAborted`:

    1. ``prepare()`` runs on rank 0 only (argument checks);
    2. ``make_work(rank, size)`` runs on every rank (data set-up, possibly collective);
       data errors on any rank are reported by rank 0 naming the rank;
    3. rank 0 runs ``root_task(evaluator)``; the others serve until it ends.

    Returns
    -------
    JobOutcome
        ``root_task``'s result and each rank's :class:`~.base.RankStats`, on every rank.
    """
    rank, size = comm.Get_rank(), comm.Get_size()
    clock = RankClock()
    error: BaseException | None = None
    if rank == 0 and prepare is not None:
        try:
            prepare()
        except Exception as e:
            error = e
    verdict = 0 if error is None else EXIT_INPUT if isinstance(error, InputError) else 1
    verdict = comm.bcast(verdict, root=0)
    if verdict:
        if rank == 0:
            raise error
        raise FitAborted(code=verdict)

    try:
        work, problem = make_work(rank, size), None
    except (InputError, TypeError, ValueError) as e:
        work, problem = None, f"{type(e).__name__}: {e}"
    problems = comm.gather(problem, root=0)
    failed = comm.bcast([r for r, p in enumerate(problems or []) if p], root=0)
    if failed:
        if rank == 0:
            raise InputError("bad input on rank " + ", ".join(map(str, failed)) + ": "
                             + "; ".join(problems[r] for r in failed))
        raise FitAborted(code=EXIT_INPUT)

    result = None
    if rank == 0:
        evaluator = MPIEvaluator(comm, work, clock)
        try:
            result = root_task(evaluator)
        except FitInterrupted:
            evaluator.abort(exit_code=EXIT_INTERRUPTED)
            raise
        except BaseException:
            evaluator.abort()
            raise
        evaluator.stop()
    else:
        serve(comm, work, clock)
    stats = comm.gather(clock.summary(), root=0)
    result, stats = comm.bcast((result, stats), root=0)
    return JobOutcome(result, stats)
