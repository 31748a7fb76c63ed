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
3. a rank whose model raised (any exception: ``SystemExit`` and ``KeyboardInterrupt``
   too) sends a failure flag in its trailer; rank 0 then sends ``REPORT``, gathers what
   failed, and every rank raises the same error: bad input
   (:class:`~mpicg.errors.InputError`, e.g. a model returning the wrong shape) or
   :class:`~mpicg.errors.RemoteEvaluationError` naming the ranks with their tracebacks;
4. ``STOP`` ends the serve loop of the other ranks; ``ABORT`` ends it with an exit code and
   a message (rank 0 failed for its own reasons, e.g. a callback raised or the start check
   failed, or a signal stopped the fit).

Before any of this, :func:`run_collective` makes sure every rank arrived (the handshake)
and that every set-up step succeeded on every rank (collective verdicts, :mod:`.verdict`).

The predicted times let waiting ranks sleep (:mod:`.waiting`): idle ranks do not take a core
from ranks that compute, and the time spent waiting is measured per rank. Only this package
imports mpi4py, and only when several ranks run.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import (
    EXIT_FAILURE,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    InputError,
    RemoteEvaluationError,
    exit_code_of,
    mark_collective,
    mark_copy,
)
from . import abort_message
from .balance import BalanceReport
from .base import Evaluator, JobOutcome, RankClock, compute_share
from .channel import Channel
from .handshake import handshake
from .launcher import check_launch, guard_exits, install_abort_on_uncaught, launch_size
from .layout import TRAILER, Layout, probe_blocks
from .sharing import Work
from .signals import FitInterrupted, note_signal, requested
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

    Raises
    ------
    InputError
        When ``comm`` is not a communicator (on the rank that gave it).
    """
    if comm is None:
        size = launch_size()
        mpi = sys.modules.get("mpi4py.MPI")
        if (size is None or size < 2) and (mpi is None or not mpi.Is_initialized()):
            return None
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
        check_launch(comm.Get_size())
    elif not (callable(getattr(comm, "Get_size", None))
              and callable(getattr(comm, "Get_rank", None))):
        raise InputError(f"`comm` must be an mpi4py communicator (MPI.COMM_WORLD, say) or "
                         f"None; got {type(comm).__name__} {comm!r:.60}")
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
                       input_types: tuple = (InputError,), signals: bool = True) -> None:
    """End a step that may have failed on some ranks of the launch (:func:`.verdict.agree`).

    Every rank calls it with its own error of the step (or None); either every rank goes
    on, or every rank raises the verdict's error (rank 0 reports it; the others raise quiet
    copies). Serially, ``error`` is simply raised. A pending signal stops every rank too
    (exit code 75), unless ``signals`` is False (after a solution was written).
    """
    agree(get_world(comm), error, what, input_types, signals)


def _compute(work: Work, points: np.ndarray, layout: Layout, rank: int, size: int,
             probe: bool, clock: RankClock):
    """The rank's sums followed by its trailer and, if the model raised, what failed."""
    pieces = layout.pieces(rank)
    trailer = np.zeros(TRAILER)
    try:
        payload, seconds = compute_share(work, points, pieces, clock)
        trailer[1:1 + len(seconds)] = seconds
        block = int(probe_blocks(layout)[rank]) if probe else -1  # (who probes: see there)
        if block >= 0:
            trailer[TRAILER - 1] = work.probe(points, block)
            clock.model += trailer[TRAILER - 1]
        trailer[0] = _status(False)
        return np.concatenate([payload, trailer]), None
    except BaseException as e:
        # KeyboardInterrupt included: report it and keep the protocol going, so that no
        # rank leaves while the others wait for its sums.
        trailer[:] = 0.0
        trailer[0] = _status(True)
        return (np.concatenate([np.zeros(sum(p.cells for p in pieces)), trailer]),
                describe_failure(e, rank, size))


def _status(failed: bool) -> float:
    """A rank's status in its trailer: 1 if its model failed, plus twice a signal it noted.

    A batch system may signal one rank only (or the ranks of one node): rank 0 then stops
    the fit at the end of the iteration, with a progress file, as for its own signal.
    """
    return float(failed) + 2.0 * (requested() or 0)


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
        # when ranks wake up late, and they would then wake up later still.) The least of
        # rank 0's recent gaps: one long gap (a first call that imports, a callback) must
        # not make the ranks sleep through the next rounds; early costs a few polls.
        # Unknown (0) in the probe round: its extra call, the fixed cost being measured, is
        # not in the prediction (the ranks took the gap for lateness and slept late after).
        next_in = (predicted + min(self._gaps) if predicted and self._gaps and not probe
                   else 0.0)
        gathered = ch.expect_sums(layout)
        ch.send([EVAL, m, n, body.size - m * n, predicted, next_in, probe], body)
        self._sent[m] = layout
        own, error = _compute(self.work, points, layout, 0, self.size, probe, self.clock)
        ch.collect(gathered, layout, own, started + predicted if predicted else None)
        self._gathered = time.perf_counter()
        grid, trailers = layout.split(gathered)
        status = trailers[:, 0].astype(np.int64)
        failed = np.flatnonzero(status % 2).tolist()
        if failed:
            self._report(failed, error, m)
        signalled = status[status >= 2]
        if signalled.size and requested() is None:
            note_signal(int(signalled[0]) // 2)
        self.sharing.record(layout, trailers)
        return self.note_nan(self.work, grid, points, self.work.values(grid, points), layout)

    def end_iteration(self) -> dict:
        """The imbalance of the iteration's rounds; rebalancing is allowed again."""
        return self.sharing.end_iteration()

    def balance(self) -> BalanceReport:
        """Imbalance before and after rebalancing."""
        return self.sharing.report()

    def _report(self, failed: list[int], own_error: dict | None, m: int) -> None:
        self.channel.send([REPORT, 0, 0, 0, 0, 0, 0])
        reports = self.comm.gather(own_error, root=0)
        self.open = False
        verdict = _evaluation_verdict({r: reports[r] for r in failed}, self.size, m)
        self.comm.bcast(verdict, root=0)
        raise mark_collective(_evaluation_error(verdict))

    def stop(self) -> None:
        """End the other ranks' serve loops normally."""
        if self.open:
            self.channel.send([STOP, 0, 0, 0, 0, 0, 0])
            self.open = False

    def abort(self, exit_code: int = EXIT_FAILURE, message: str = "",
              error: BaseException | None = None) -> bool:
        """Tell the other ranks the fit ended on rank 0 (best effort, bounded in time).

        ``exit_code`` 75 (:data:`~mpicg.errors.EXIT_INTERRUPTED`) means a signal stopped
        the fit after a progress file was written (``message``: the signal's number and the
        progress file, on two lines), 2 bad input (the other ranks raise an
        :class:`InputError` with ``message``, as rank 0 does), anything else a failure: the
        other ranks raise a copy of ``error`` (rank 0's own, a callback's say) where it is
        an ``Exception`` that pickles, or whose class, ``args`` and attributes do (see
        :func:`.abort_message.pack`), else :class:`~mpicg.errors.FitAborted`. Returns
        False when some rank did not take the message in time (it is stuck or dead: only
        aborting the job ends it then).
        """
        if not self.open:
            return True
        self.open = False
        deadline = time.perf_counter() + _ABORT_GRACE
        # A round cut short on rank 0: take the sums that are on their way first.
        self.channel.finish(deadline=deadline)
        body, kind, n_bytes = abort_message.pack(message, error)
        return self.channel.send([ABORT, exit_code, 0, body.size, kind, n_bytes, 0], body,
                                 deadline=deadline)


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
        The fit failed on rank 0 for its own reasons (a callback raised, say) with an
        error that could not be sent here; one that could is raised as a quiet copy.
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
            raise mark_copy(_evaluation_error(comm.bcast(None, root=0)))
        if command == ABORT:
            raise abort_message.raised_by_the_others(m, int(header[4]), body, int(header[5]))
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
            except FitInterrupted as e:
                evaluator.abort(exit_code=EXIT_INTERRUPTED,
                                message=f"{int(e.signum)}\n{e.progress_file or ''}")
                raise
            except InputError as e:  # the start check: bad input, on every rank
                if evaluator.abort(exit_code=EXIT_INPUT, message=str(e)):
                    mark_collective(e)
                raise
            except BaseException as e:
                # Rank 0 failed on its own (a callback, say): the others raise a copy of
                # its error, so that code catching it goes on alike on every rank (or
                # leave non-zero, even when rank 0's own exit status is 0: a callback's
                # sys.exit()).
                code = exit_code_of(e)
                evaluator.abort(exit_code=EXIT_FAILURE if code in (0, EXIT_INPUT) else code,
                                error=e)
                raise
            evaluator.stop()
        else:
            serve(comm, work, clock)
    stats = comm.gather(clock.summary(), root=0)
    result, stats = comm.bcast((result, stats), root=0)
    return JobOutcome(result, stats)
