"""What rank 0's ABORT message carries to the other ranks, and what they raise from it.

A fit that ends on rank 0 (a signal, bad input, rank 0's own error such as a callback's)
tells the serving ranks with one ABORT message (:meth:`.mpi.MPIEvaluator.abort`). Its body
is bytes packed eight to a float64 (the channel carries float64 arrays); its header says
what they hold (:data:`TEXT`, :data:`ERROR`, :data:`SHELL`) and how many bytes there are.
The other ranks raise a quiet copy (:func:`~mpicg.errors.mark_copy`) of what rank 0 raises,
so that code catching it goes on alike on every rank.
"""

from __future__ import annotations

import contextlib
import pickle
import signal

import numpy as np

from ..errors import EXIT_INPUT, EXIT_INTERRUPTED, FitAborted, InputError, mark_copy
from .signals import FitInterrupted, requested

__all__ = ["ERROR", "SHELL", "TEXT", "pack", "raised_by_the_others"]

#: What the body holds: text (a message), a pickled error, a pickled (class, args,
#: attributes) of an error that does not unpickle as it is.
TEXT, ERROR, SHELL = 0, 1, 2


def pack(message: str, error: BaseException | None = None) -> tuple[np.ndarray, int, int]:
    """The body for ``message``, or for ``error`` where a copy of it can be made.

    Returns
    -------
    body : ndarray of float64
        The bytes, zero-padded to a multiple of eight.
    kind : int
        :data:`TEXT`, :data:`ERROR` or :data:`SHELL`.
    n_bytes : int
        How many of the body's bytes count.
    """
    data, kind = message.encode(), TEXT
    if isinstance(error, Exception):
        data, kind = _error_to_send(error) or (data, kind)
    return np.frombuffer(data + bytes(-len(data) % 8), dtype=np.float64), kind, len(data)


def raised_by_the_others(exit_code: int, kind: int, body: np.ndarray | None,
                         n_bytes: int) -> BaseException:
    """What a rank other than 0 raises for an ABORT message with this exit code and body.

    A signal (exit code 75): rank 0's :class:`FitInterrupted` (its signal and progress
    file, on two lines of text); bad input (2): an :class:`InputError` with rank 0's
    message; otherwise a copy of rank 0's error where one was sent and unpickles here,
    else :class:`FitAborted` with the exit code. All but ``FitAborted`` are marked copies.
    """
    data = b"" if body is None else body.tobytes()[:n_bytes]
    if exit_code == EXIT_INTERRUPTED:
        return mark_copy(_interruption(data))
    if exit_code == EXIT_INPUT:
        return mark_copy(InputError(data.decode(errors="replace")))
    if kind in (ERROR, SHELL):
        copy = _unpickled_error(data, kind)
        if copy is not None:
            return mark_copy(copy)
    return FitAborted(code=exit_code)


def _interruption(text: bytes) -> FitInterrupted:
    """Rank 0's :class:`FitInterrupted`, from the signal and progress file it sent."""
    signum, _, path = text.decode(errors="replace").partition("\n")
    try:
        return FitInterrupted(int(signum), path or None)
    except ValueError:
        return FitInterrupted(requested() or signal.SIGTERM)


def _error_to_send(error: Exception) -> tuple[bytes, int] | None:
    """Rank 0's error pickled for the other ranks, or None where no copy can be made.

    The error itself where it comes back from a pickle (not every exception does: one
    whose ``__init__`` takes other arguments than it passes on fails to unpickle), else
    its class, ``args`` and attributes, from which :func:`_unpickled_error` builds a copy
    without calling ``__init__``.
    """
    with contextlib.suppress(Exception):
        data = pickle.dumps(error, pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)
        return data, ERROR
    with contextlib.suppress(Exception):
        shell = (type(error), error.args, dict(getattr(error, "__dict__", {})))
        data = pickle.dumps(shell, pickle.HIGHEST_PROTOCOL)
        _from_shell(pickle.loads(data))
        return data, SHELL
    return None


def _from_shell(shell) -> Exception:
    cls, args, attributes = shell
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(attributes)
    return error


def _unpickled_error(data: bytes, kind: int) -> Exception | None:
    """The copy of the error rank 0 sent, or None where it does not unpickle here."""
    try:
        error = pickle.loads(data)
        if kind == SHELL:
            error = _from_shell(error)
    except Exception:
        return None
    return error if isinstance(error, Exception) else None
