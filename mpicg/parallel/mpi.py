"""The MPI executor: rank 0 sends each batch, every rank computes its cells, rank 0 adds.

Protocol (every message a float64 buffer, no pickling on the hot path; how they travel:
:mod:`.channel`):

1. rank 0 sends one message to every rank: a header ``[command, m, n, layout length,
   predicted seconds of the round, predicted seconds to the next message, probe]``, then for
   ``EVAL`` the ``m x n`` batch and, when the ranks do not have it yet, the layout for
   batches of m points (:mod:`.layout`, chosen by rank 0's :class:`~.balance.Sharing`);
2. every rank, rank 0 included, computes its pieces of the batch's grid and sends its cell
   sums followed by a trailer: a status flag and the seconds of each piece (and of a probe
   call when asked); rank 0 receives them in rank order, which puts the cells in grid order,
   and hands the seconds to the sharing (the measured cost model);
3. a rank whose model raised sends a failure flag in its trailer; rank 0 then sends
   ``REPORT``, gathers the tracebacks, raises :class:`~mpicg.errors.RemoteEvaluationError`
   naming the ranks, and the other ranks leave with :class:`~mpicg.errors.FitAborted`;
4. ``STOP`` ends the serve loop of the other ranks; ``ABORT`` ends it with an error (rank 0
   failed for its own reasons, e.g. a callback raised).

The predicted times let waiting ranks sleep (:mod:`.waiting`): idle ranks do not take a core
from ranks that compute, and the time spent waiting is measured per rank. Only this package
imports mpi4py, and only when several ranks run.
"""

from __future__ import annotations

import signal
import socket
import statistics
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import EXIT_INPUT, FitAborted, InputError, RemoteEvaluationError
from .balance import BalanceReport
from .base import Evaluator, JobOutcome, RankClock, compute_share
from .channel import Channel
from .launcher import install_abort_on_uncaught, launch_size
from .layout import TRAILER, Layout
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


def _compute(work: Work, points: np.ndarray, layout: Layout, rank: int, size: int,
             probe: bool, clock: RankClock):
    """The rank's sums followed by its trailer, and the remote traceback if the model raised."""
    pieces = layout.pieces(rank)
    trailer = np.zeros(TRAILER)
    try:
        payload, seconds = compute_share(work, points, pieces, clock)
        trailer[1:1 + len(seconds)] = seconds
        if probe:
            block = pieces[0].first_block if pieces else 0
            trailer[TRAILER - 1] = work.probe(points, block)
            clock.model += trailer[TRAILER - 1]
        return np.concatenate([payload, trailer]), None
    except Exception:  # the model's own error: report it, keep the protocol going
        trailer[:] = 0.0
        trailer[0] = 1.0
        error = (f"Traceback from rank {rank} of {size} on {socket.gethostname()}:\n"
                 + traceback.format_exc())
        return np.concatenate([np.zeros(sum(p.cells for p in pieces)), trailer]), error


class MPIEvaluator(Evaluator):
    """Rank 0's evaluator: every batch is one collective round over all ranks.

    Parameters
    ----------
    comm : mpi4py communicator
        All ranks of the job; the others must be in :func:`serve`.
    work : Work
        What each rank computes and how the grid is assembled.
    clock : RankClock
        Rank 0's time accounting.
    """

    def __init__(self, comm, work: Work, clock: RankClock):
        self.comm, self.work, self.clock = comm, work, clock
        self.size = comm.Get_size()
        self.channel = Channel(comm, clock)
        self.sharing = work.sharing(self.size)
        self._sent: dict[int, Layout] = {}  # batch size -> the layout the ranks hold
        self._gathered: float | None = None  # when the last round's sums were all in
        self._gaps: deque = deque(maxlen=5)  # from then to the next round's message
        self.open = True

    def evaluate(self, points: np.ndarray) -> np.ndarray:
        """Objective values of the batch, computed by all ranks in one round."""
        points = np.ascontiguousarray(points, dtype=np.float64)
        m, n = points.shape
        ch = self.channel
        layout = self.sharing.layout(m)
        body = points.ravel()
        if self._sent.get(m) is not layout:
            body = np.concatenate([body, layout.encode()])
        predicted = self.sharing.predicted_seconds(layout) or 0.0
        probe = self.sharing.wants_probe()
        started = time.perf_counter()
        if self._gathered is not None:
            self._gaps.append(started - self._gathered)
        # The next message comes after this round's slowest rank and rank 0's own work
        # between rounds. (Not after rounds as long as the last ones: rounds take longer
        # when ranks wake up late, and they would then wake up later still.)
        next_in = predicted + statistics.median(self._gaps) if predicted and self._gaps else 0.0
        gathered = ch.expect_sums(layout)
        ch.send([EVAL, m, n, body.size - m * n, predicted, next_in, probe], body)
        self._sent[m] = layout
        own, error = _compute(self.work, points, layout, 0, self.size, probe, self.clock)
        ch.collect(gathered, layout, own, started + predicted if predicted else None)
        self._gathered = time.perf_counter()
        grid, trailers = layout.split(gathered)
        failed = np.flatnonzero(trailers[:, 0]).tolist()
        if failed:
            self._report(failed, error, m)
        self.sharing.record(layout, trailers)
        return self.work.values(grid, points)

    def end_iteration(self) -> dict:
        """The imbalance of the iteration's rounds; rebalancing is allowed again."""
        return self.sharing.end_iteration()

    def balance(self) -> BalanceReport:
        """Imbalance before and after rebalancing."""
        return self.sharing.report()

    def _report(self, failed: list[int], own_error: str | None, m: int) -> None:
        self.channel.send([REPORT, 0, 0, 0, 0, 0, 0])
        tracebacks = self.comm.gather(own_error, root=0)
        self.open = False
        texts = {r: tracebacks[r] for r in failed}
        names = ", ".join(str(r) for r in failed)
        plural = "s" if len(failed) > 1 else ""
        message = (f"the model raised on rank{plural} {names} (of {self.size}) while "
                   f"evaluating a batch of {m} point{'s' if m > 1 else ''}; every rank "
                   f"stops.\n\n" + "\n".join(texts[r] for r in failed))
        raise RemoteEvaluationError(message, failed, texts)

    def stop(self) -> None:
        """End the other ranks' serve loops normally."""
        if self.open:
            self.channel.send([STOP, 0, 0, 0, 0, 0, 0])
            self.open = False

    def abort(self, exit_code: int = 1) -> None:
        """Tell the other ranks the fit ended on rank 0 (best effort, bounded in time).

        ``exit_code`` 75 (:data:`~.signals.EXIT_INTERRUPTED`) means a signal stopped
        the fit after a progress file was written; anything else is a failure.
        """
        if self.open:
            self.open = False
            deadline = time.perf_counter() + _ABORT_GRACE
            # A round cut short on rank 0: take the sums that are on their way first.
            self.channel.finish(deadline=deadline)
            self.channel.send([ABORT, exit_code, 0, 0, 0, 0, 0], deadline=deadline)


def serve(comm, work: Work, clock: RankClock) -> None:
    """The loop of ranks other than 0: compute shares of batches until told to stop.

    Raises
    ------
    FitAborted
        When the fit ends in an error (reported by rank 0).
    """
    ch = Channel(comm, clock)
    rank, size = comm.Get_rank(), comm.Get_size()
    layouts: dict[int, Layout] = {}
    last_error = None
    predicted_message = next_message = None  # when the next message should come
    excess: deque = deque(maxlen=5)  # how much later than rank 0 predicted messages came
    while True:
        header, body = ch.receive(next_message)
        arrived = time.perf_counter()
        if predicted_message is not None:
            excess.append(arrived - predicted_message)
        command, m, n, length = (int(v) for v in header[:4])
        if command == EVAL:
            predicted, next_in, probe = float(header[4]), float(header[5]), bool(header[6])
            points = body[:m * n].reshape(m, n)
            if length:
                layouts[m] = Layout.decode(body[m * n:])
            sums, error = _compute(work, points, layouts[m], rank, size, probe, clock)
            ch.send_sums(sums, arrived + predicted if predicted > 0 else None)
            last_error = error or last_error
            # Rank 0 predicts the model's time; rounds also take the messages' and the
            # ranks' start-up (much of it, on a crowded node). Four fifths of the least that
            # added lately: waking up a little early costs a poll, late costs the whole
            # round, and expecting the full excess would let late wake-ups feed on themselves.
            usual = max(0.0, min(excess)) if excess else 0.0
            predicted_message = arrived + next_in if next_in > 0 else None
            next_message = None if next_in <= 0 else predicted_message + 0.8 * usual
            continue
        ch.finish(deadline=time.perf_counter() + _ABORT_GRACE)
        if command == REPORT:
            comm.gather(last_error, root=0)
            raise FitAborted("the model failed (see rank 0's error)")
        if command == ABORT:
            if m == EXIT_INTERRUPTED:
                raise FitInterrupted(requested() or signal.SIGTERM)
            raise FitAborted()
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
