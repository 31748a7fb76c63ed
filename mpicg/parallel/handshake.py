"""The start-up handshake: every rank arrives at a collective call, or the job ends, naming who.

A collective call blocks until every rank makes it. A rank that never does (its script
exited, slept, or skipped a fit) would leave the others waiting for ever. So every collective
step of mpicg begins with a handshake that can time out: each rank tells rank 0 it has
arrived, and which collective call of its own this is; rank 0 waits, polling, up to
:func:`handshake_timeout` seconds. Then either every rank arrived at the same call and the
step goes on, or rank 0 prints which ranks did not arrive (or arrived at another call) and
aborts the job, which is the only way to end a rank that is not inside MPI.

Point-to-point messages are used, not a barrier, so rank 0 knows who is missing; waiting
ranks poll with a growing sleep, so they do not burn a core a slow rank may need.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable

import numpy as np

from ..errors import EXIT_FAILURE, EXIT_INTERRUPTED, InputError
from .signals import requested

__all__ = ["DEFAULT_HANDSHAKE_TIMEOUT", "TIMEOUT_VARIABLE", "abort_job", "announce_exit",
           "handshake", "handshake_timeout", "poll"]

#: Seconds rank 0 waits for every rank at the start of a collective call, by default. Long
#: enough for ranks that read their data at different speeds from a shared filesystem.
DEFAULT_HANDSHAKE_TIMEOUT = 300.0
#: The environment variable that sets it (seconds).
TIMEOUT_VARIABLE = "MPICG_HANDSHAKE_TIMEOUT"

_exit = os._exit  # the real one, even while a guard (launcher.guard_exits) replaces it
_SAY_GRACE = 0.25  # seconds between a message and the abort that ends the job
_TAG = 31_415  # the handshake's messages (+1: rank 0 arrived, +2: the release)
# Collective calls made so far on a communicator, cached on it as an MPI attribute: it goes
# with the communicator when that is freed, and a later one that MPI gives the same handle
# (MPICH reuses them) starts again from 0 on every rank, as its ranks' calls do.
_keyval: int | None = None
_took_part = False  # whether this process has made a collective call (see announce_exit)
_LEFT = -1  # in place of a call number: this rank's process is ending
_SHORT_NAP, _LONG_NAP, _LONG_WAIT = 1e-3, 5e-3, 1.0  # seconds (see _nap_limit)


def handshake_timeout() -> float:
    """The handshake's timeout in seconds: ``$MPICG_HANDSHAKE_TIMEOUT`` or the default.

    Raises
    ------
    InputError
        When the variable is set but not a number > 0.
    """
    text = os.environ.get(TIMEOUT_VARIABLE)
    if text is None or not text.strip():
        return DEFAULT_HANDSHAKE_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0):
        raise InputError(f"{TIMEOUT_VARIABLE} must be a number of seconds > 0; got {text!r}")
    return value


def _nap_limit(waited: float) -> float:
    """The longest nap between two polls after ``waited`` seconds of waiting.

    A nap in progress when the message comes is time lost by every rank (the handshakes of a
    fit's set-up are on its critical path): at most 1 ms in the first second of a wait,
    which is where ranks meet when they all run, at one poll per millisecond (about 3 % of
    a core). Later (a rank still reading its data) 5 ms, which costs less than 1 %.
    """
    return _SHORT_NAP if waited < _LONG_WAIT else _LONG_NAP


def poll(request, deadline: float | None = None, on_wait=None) -> bool:
    """Wait for a non-blocking request; spin briefly, then sleep with a growing back-off.

    Returns False when ``deadline`` (``time.monotonic()``) passes first. ``on_wait()`` is
    called between tests (a place to look at pending signals).
    """
    spins, delay, start = 0, 2e-5, time.monotonic()
    while not request.Test():
        spins += 1
        if spins > 200:
            time.sleep(delay)
            delay = min(delay * 1.5, _nap_limit(time.monotonic() - start))
        if on_wait is not None:
            on_wait()
        if deadline is not None and time.monotonic() > deadline:
            return False
    return True


def _ranks(ranks) -> str:
    ranks = sorted(ranks)
    return ("rank " if len(ranks) == 1 else "ranks ") + ", ".join(map(str, ranks))


def _abort(comm, message: str, code: int = EXIT_FAILURE) -> None:
    sys.stdout.flush()
    sys.stderr.write(f"mpicg: {message}\n")
    sys.stderr.flush()
    abort_job(comm, code)


def abort_job(comm, code: int) -> None:
    """``comm.Abort(code)``, and the process's own end should MPI return from it.

    MPICH's ``MPI_Abort`` was seen to return when a peer had already finalized; the job
    must end anyway, and this rank with it.
    """
    time.sleep(_SAY_GRACE)  # let the launcher pass our last words on before it ends all
    try:
        comm.Abort(code)
    finally:
        _exit(code)


def announce_exit() -> None:
    """At this process's exit, tell rank 0, which may wait for it at a handshake, that it left.

    Registered (``atexit``) by :func:`.launcher.start_mpi` on every rank. A rank whose
    script ends before its first collective fit while rank 0 waits for it there is then
    named at once, instead of after the timeout. Only then: a rank that took part in a fit
    announces nothing, since an unreceived announcement at the normal end of a job, with
    rank 0 still in a collective call of the user's own (an ``MPI.COMM_WORLD.gather`` of the
    results after the fit), was seen to make MPICH's launcher kill a rank (signal 9) after
    every rank had finished; a rank that leaves between two fits is named after the
    timeout. (Rank 0 announces nothing either: messages from it to ranks that had already
    finalized made MPICH's launcher kill the job at its normal end; the others name a
    missing rank 0 after the timeout.)
    """
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None or not mpi.Is_initialized() or mpi.Is_finalized():
        return
    if _took_part:  # this process took part in a collective step: see above
        return
    comm = mpi.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    if size < 2:
        return
    if rank == 0:
        return
    poll(comm.Isend(np.array([_LEFT, 0], dtype=np.int64), dest=0, tag=_TAG),
         time.monotonic() + 1.0)


def handshake(comm, what: str, timeout: float | None = None,
              failed: Callable[[], bool] | None = None) -> bool:
    """Every rank of ``comm`` calls this at the start of a collective step.

    Parameters
    ----------
    comm : mpi4py communicator
        The ranks of the step.
    what : str
        Where, for the message (``"at the start of the fit"``).
    timeout : float, optional
        Seconds a rank waits for the others (default :func:`handshake_timeout`).
    failed : callable, optional
        ``failed() -> bool``: whether this rank has something to report (an error of the
        step, a signal). Asked once: by a rank other than 0 when it arrives, by rank 0 once
        every rank has arrived (so a signal it noted while it waited counts).

    Returns
    -------
    bool
        On every rank: whether any rank's ``failed()`` said True (a collective verdict
        follows then; :func:`.verdict.agree`). The answer travels with the handshake's own
        messages, so a step that succeeded everywhere costs no further collective call.

    Returns when every rank arrived at the same collective call. Otherwise the job ends:
    rank 0 prints which ranks are missing or out of step and aborts it (exit code 1; 75 when
    a signal asked it to stop while it waited); when rank 0 itself is missing, rank 1 says
    so. This function does not return then.
    """
    timeout = handshake_timeout() if timeout is None else timeout
    rank, size = comm.Get_rank(), comm.Get_size()
    call = _count_call(comm)
    failed = failed or (lambda: False)
    if rank != 0:
        return _join(comm, rank, size, call, what, timeout, failed())
    return _gather_arrivals(comm, size, call, what, timeout, failed)


def _count_call(comm) -> int:
    """Count a collective call on ``comm``; returns its number (1 for the first)."""
    global _keyval, _took_part
    if _keyval is None:
        _keyval = type(comm).Create_keyval()  # not copied by Dup: a copy starts at 0
    call = (comm.Get_attr(_keyval) or 0) + 1
    comm.Set_attr(_keyval, call)
    _took_part = True
    return call


def _join(comm, rank: int, size: int, call: int, what: str, timeout: float,
          failed: bool) -> bool:
    """A rank other than 0: say it arrived; wait (bounded) until rank 0 has arrived too.

    Then wait for rank 0's release, which says whether any rank failed.
    """
    arrived_at = time.monotonic()
    poll(comm.Isend(np.array([call, failed], dtype=np.int64), dest=0, tag=_TAG))
    notice = np.zeros(1, dtype=np.int64)
    # Rank 0, once it arrives, waits at most `timeout` for the others and then decides; so
    # only its own arrival needs a deadline here.
    if poll(comm.Irecv(notice, source=0, tag=_TAG + 1), arrived_at + timeout):
        # Point to point, not a broadcast: a broadcast's tree passes the release on only
        # while the ranks in it poll, and waiting ranks nap (measured: 16 ranks on 2 cores
        # left a broadcast's release 5-13 ms after rank 0 sent it).
        release = np.zeros(1, dtype=np.int64)
        poll(comm.Irecv(release, source=0, tag=_TAG + 2))
        return bool(release[0])
    if rank != 1:  # rank 1 reports it; the others follow it a moment later
        time.sleep(5.0)
    _abort(comm, f"rank 0 (of {size}) did not arrive {what} within {timeout:g} s of rank "
                 f"{rank}: every rank stops ({TIMEOUT_VARIABLE} sets the wait).")
    return True  # (not reached: the job ends)


def _gather_arrivals(comm, size: int, call: int, what: str, timeout: float,
                     failed: Callable[[], bool]) -> bool:
    """Rank 0: tell every rank it arrived; wait for all of them, or end the job.

    Then release every rank with the answer: whether any rank (rank 0 included) failed.
    """
    notices = [comm.Isend(np.array([call], dtype=np.int64), dest=r, tag=_TAG + 1)
               for r in range(1, size)]
    arrived = {r: np.zeros(2, dtype=np.int64) for r in range(1, size)}
    left: set[int] = set()
    requests = {r: comm.Irecv(buffer, source=r, tag=_TAG) for r, buffer in arrived.items()}
    start = time.monotonic()
    deadline = start + timeout
    missing = set(requests)
    delay = 2e-5
    # A signal noted meanwhile does not end the wait: the others got it too, and the verdict
    # after the handshake stops every rank with 75. Only if they never come does it count.
    while missing and time.monotonic() < deadline and not left:
        missing = {r for r in missing if not requests[r].Test()}
        left = {r for r in arrived if r not in missing and arrived[r][0] == _LEFT}
        if missing:
            time.sleep(delay)
            delay = min(delay * 1.5, _nap_limit(time.monotonic() - start))
    if left:
        _abort(comm, f"{_ranks(left)} (of {size}) ended (its script finished or exited) "
                     f"before it arrived {what}: every rank stops. Every rank must call the "
                     "same collective fits in the same order.")
    if missing:
        if requested() is not None:
            _abort(comm, f"stopped by a signal while waiting for {_ranks(missing)} (of "
                         f"{size}) {what}; nothing to save", EXIT_INTERRUPTED)
        _abort(comm, f"{_ranks(missing)} (of {size}) did not arrive {what} within "
                     f"{timeout:g} s: every rank stops. A rank that ended its script, skipped "
                     "a fit, or is still busy before it never joins; every rank must call "
                     f"the same collective fits in the same order ({TIMEOUT_VARIABLE} sets "
                     "the wait).")
    for request in notices:
        poll(request)
    astray = {r: int(b[0]) for r, b in arrived.items() if int(b[0]) != call}
    if astray:
        where = "; ".join(f"rank {r} is at its collective call {c}"
                          for r, c in sorted(astray.items()))
        _abort(comm, f"the ranks are out of step {what}: rank 0 is at its collective "
                     f"call {call}, {where}. Every rank must call the same collective fits "
                     "in the same order (did a rank skip a fit after an error?).")
    answer = np.array([failed() or any(b[1] for b in arrived.values())], dtype=np.int64)
    releases = [comm.Isend(answer, dest=r, tag=_TAG + 2) for r in range(1, size)]
    for request in releases:
        poll(request)
    return bool(answer[0])
