"""Collective verdicts: a step that may fail on some ranks only ends with every rank knowing.

Reading data, building a model, checking arguments: each rank does it on its own, and it can
fail on some ranks only (a file one node cannot read, a model constructor that fails on one
rank). A rank that then leaves, or goes on, while another waits for it in a collective call
hangs the job. :func:`agree` ends such a step: every rank says in the handshake
(:func:`.handshake.handshake`) whether it failed; when one did, every rank sends rank 0 its
report, rank 0 decides, and every rank raises:

- bad input anywhere (:class:`~mpicg.errors.InputError`): ``InputError`` on every rank;
- another error anywhere: :class:`~mpicg.errors.RankError` naming the ranks with their
  tracebacks (rank 0 raises its own error when it is the only rank that failed);
- a signal (SIGTERM, SIGUSR1, SIGINT) noted on any rank during the step (by the time the
  rank arrives at the handshake; on rank 0, by the time every rank has arrived):
  :class:`~.signals.FitInterrupted`, exit code 75, nothing to save yet. One noted on a rank
  other than 0 while it waits at the handshake (for the others, or for rank 0's answer:
  up to the handshake's timeout when a rank is still reading its data) is not reported by
  that step: by the next verdict, or else with the rounds' sums, which stop a fit at the
  end of its iteration (a fit that ends in that iteration ends as usual). Batch systems
  signal every rank of a job, and rank 0 asks for its own signals once every rank has
  arrived, so this is a signal sent to single processes.

Rank 0's error is the one reported; the other ranks raise quiet copies
(:func:`~mpicg.errors.mark_copy`), so a job prints one message, and code that catches the
error (a pipeline going on to its next light curve) does the same on every rank.
"""

from __future__ import annotations

import socket
import traceback

from ..errors import InputError, RankError, mark_collective, mark_copy
from .handshake import handshake
from .signals import FitInterrupted, requested

__all__ = ["agree", "describe_failure", "failure_message"]


def describe_failure(error: BaseException, rank: int, size: int,
                     input_types: tuple = (InputError,)) -> dict:
    """What a rank tells rank 0 about its error: its kind and a text (picklable).

    Bad input is one line (``Type: message``); anything else is the full traceback, headed
    with the rank and host (as mpi4py.futures heads a remote traceback).
    """
    if isinstance(error, input_types):
        return {"kind": "input", "text": f"{type(error).__name__}: {error}"}
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return {"kind": "failure",
            "text": f"Traceback from rank {rank} of {size} on {socket.gethostname()}:\n{text}"}


def _ranks(ranks) -> str:
    return ("rank " if len(ranks) == 1 else "ranks ") + ", ".join(map(str, ranks))


def failure_message(what: str, reports: dict[int, dict], size: int) -> tuple[str, str]:
    """The verdict's kind (``'input'`` or ``'failure'``) and its one message, from every report.

    Identical reports from several ranks (the same bad data on every rank, the same prior
    raising everywhere) are shown once, with the ranks that sent them.
    """
    failures = {r: d for r, d in reports.items() if d["kind"] == "failure"}
    kind = "failure" if failures else "input"
    chosen = failures or reports
    groups: dict[str, list[int]] = {}
    for r, d in sorted(chosen.items()):
        body = d["text"].split("\n", 1)[1] if kind == "failure" else d["text"]
        groups.setdefault(body, []).append(r)
    if kind == "input":
        if len(groups) == 1 and len(chosen) in (size, 1) and 0 in chosen:
            # Every rank (or rank 0 alone) found the same: the message speaks for itself.
            text = next(iter(groups))
            return kind, text.split(": ", 1)[1] if text.startswith("InputError: ") else text
        return kind, "; ".join(f"bad input on {_ranks(rs)} (of {size}) {what}: {body}"
                               for body, rs in groups.items())
    parts = [f"failed on {_ranks(sorted(chosen))} (of {size}) {what}; every rank stops."]
    for body, rs in groups.items():
        parts.append(f"\nTraceback from {_ranks(rs)} of {size}:\n{body.rstrip()}")
    return kind, "\n".join(parts)


#: Classes of bad input a verdict can raise on every rank (the others: InputError).
_INPUT_CLASSES = {"InputError": InputError, "ValueError": ValueError, "TypeError": TypeError}


def agree(comm, error: BaseException | None, what: str,
          input_types: tuple = (InputError,), signals: bool = True) -> None:
    """End a step that may fail on some ranks: every rank goes on, or every rank raises.

    Every rank of ``comm`` calls it, with its own error of the step or None.

    Parameters
    ----------
    comm : mpi4py communicator or None
        The ranks; None for a serial run (``error``, or a pending signal, is then simply
        raised).
    error : BaseException or None
        This rank's error in the step, if any.
    what : str
        Where, for messages: ``"at the start of the fit"``, ``"while reading the data"``.
    input_types : tuple of type
        Errors that are bad input (exit code 2), besides :class:`InputError`.
    signals : bool
        Whether a pending signal stops every rank here (False once a fit's solution is
        written: the signal came too late to stop anything, and the job succeeded).

    Raises
    ------
    InputError, RankError, FitInterrupted
        The verdict, on every rank (see the module's description); rank 0 raises its own
        error when it is the only rank that failed.
    """
    if comm is None:
        if error is not None:
            raise error
        if signals and requested() is not None:
            raise mark_collective(FitInterrupted(requested()))
        return
    rank, size = comm.Get_rank(), comm.Get_size()

    def own_report() -> dict | None:
        """What this rank tells rank 0, if anything: its error, or a signal it noted."""
        if error is not None:
            return describe_failure(error, rank, size, input_types)
        if signals and requested() is not None:
            return {"kind": "signal", "signum": int(requested())}
        return None

    # The handshake says whether any rank has something to report: a step that succeeded
    # everywhere (nearly every one) ends there, without the reports' gather and broadcast.
    if not handshake(comm, what, failed=lambda: own_report() is not None):
        return
    reports = comm.gather(own_report(), root=0)
    verdict = None
    if rank == 0:
        failures = {r: d for r, d in enumerate(reports)
                    if d is not None and d["kind"] != "signal"}
        signums = [d["signum"] for d in reports if d is not None and d["kind"] == "signal"]
        if failures:
            kind, message = failure_message(what, failures, size)
            alone = list(failures) == [0]
            verdict = {"kind": kind, "message": message, "ranks": sorted(failures),
                       "texts": {r: d["text"] for r, d in failures.items()}, "own": alone,
                       "type": type(error).__name__ if alone else None}
        elif signums:
            verdict = {"kind": "signal", "signum": signums[0]}
    verdict = comm.bcast(verdict, root=0)
    if verdict is None:
        return
    raise _verdict_error(verdict, error, rank)


def _verdict_error(verdict: dict, own: BaseException | None, rank: int) -> BaseException:
    """The exception this rank raises for a verdict."""
    if verdict["kind"] == "signal":
        stop = FitInterrupted(verdict["signum"])
        return mark_collective(stop) if rank == 0 else mark_copy(stop)
    if rank == 0 and verdict["own"] and own is not None:
        return mark_collective(own)
    if verdict["kind"] == "input":
        # The class rank 0 raises, so that a script's `except` catches it on every rank
        # alike (rank 0's own error when it alone failed: a TypeError from an argument
        # check, say), and goes on with every rank to its next fit.
        cls = _INPUT_CLASSES.get(verdict.get("type"), InputError)
        message = verdict["message"]
        error = cls(message.removeprefix(f"{cls.__name__}: "))
    else:
        error = RankError(verdict["message"], verdict["ranks"], verdict["texts"])
    return mark_collective(error) if rank == 0 else mark_copy(error)
