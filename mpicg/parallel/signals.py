"""Batch-system signals: stop at the next safe point with a progress file, then exit 75.

SLURM (``--signal=B:USR1@120``, or SIGTERM at the wall-time limit), PBS and a Ctrl-C send a
signal to every rank (``mpirun`` and ``srun`` forward it). While a fit with a
``progress_file`` runs, mpicg only notes the signal; at the end of the current iteration rank
0 writes the progress file and tells the other ranks, and every rank exits with
:data:`EXIT_INTERRUPTED`, so a job script can tell "resume me" from success and from failure.
A second signal of the same kind falls back to its default behaviour (stop now).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

from ..errors import EXIT_INTERRUPTED

__all__ = ["EXIT_INTERRUPTED", "SIGNALS", "FitInterrupted", "catch_signals", "requested"]

SIGNALS = tuple(s for s in (getattr(signal, n, None) for n in ("SIGTERM", "SIGUSR1",
                                                                "SIGINT")) if s is not None)

_requested: list[int] = []
_remote: list[int] = []  # signals other ranks noted (rank 0's own come first)
_depth = [0]  # nested catch_signals (the command around the whole run, a fit inside it)


class FitInterrupted(SystemExit):
    """A fit stopped by a signal after writing its progress file; exit code 75."""

    def __init__(self, signum: int, progress_file=None):
        super().__init__(EXIT_INTERRUPTED)
        self.signum = signum
        self.progress_file = progress_file

    def __str__(self) -> str:
        where = (f"; resume from {self.progress_file}" if self.progress_file
                 else " before the fit began; nothing was lost, run it again")
        return f"stopped by {signal.Signals(self.signum).name}{where}"


def requested() -> int | None:
    """The signal that asked the fit to stop, or None."""
    if _requested:
        return _requested[0]
    return _remote[0] if _remote else None


def note_signal(signum: int) -> None:
    """Take note of a signal another rank received, as if this process had.

    Rank 0 then stops the fit at the end of the iteration, with a progress file, as for its
    own signals. A process that is not noting signals (:func:`catch_signals` is not in
    effect: a fit without a progress file) gets the signal itself, with its usual effect
    (by default the process ends, and the launcher ends the job).
    """
    if not _depth[0]:
        signal.raise_signal(signum)
        return
    if signum not in _remote:  # not this process's own: its own first signal still waits
        _remote.append(signum)


@contextmanager
def catch_signals(enabled: bool = True):
    """Note SIGTERM/SIGUSR1/SIGINT instead of dying, for the duration of a fit.

    Only in the main thread (Python allows handlers nowhere else); elsewhere, and when not
    ``enabled``, signals keep their usual effect. Nested uses (the ``mpicg`` command around
    its whole run, a fit inside it) share one record: a signal noted while the command read
    its data is still pending when the fit starts.
    """
    if (not enabled or threading.current_thread() is not threading.main_thread()
            or _depth[0] > 0):
        yield
        return
    previous = {}

    def note(signum, frame):
        if signum in _requested:  # asked twice: stop now, the usual way
            signal.signal(signum, previous.get(signum, signal.SIG_DFL))
            signal.raise_signal(signum)
            return
        _requested.append(signum)

    _requested.clear()
    _remote.clear()
    for s in SIGNALS:
        previous[s] = signal.signal(s, note)
    _depth[0] += 1
    try:
        yield
    finally:
        _depth[0] -= 1
        for s, handler in previous.items():
            signal.signal(s, handler)
        _requested.clear()
        _remote.clear()
