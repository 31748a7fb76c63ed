"""The errors and warnings mpicg raises, and the exit codes they map to.

A collective call (a fit, a verdict on a set-up step) that fails raises the same error on
every rank, so that code catching it (a pipeline going on to its next light curve) does the
same on every rank, as it would in a serial run. Rank 0's error is the one reported; on the
other ranks it is a *copy* (:func:`mark_copy`), which the ``mpicg`` command and the handler
of uncaught exceptions keep quiet, so a job prints one message, not one per rank.
"""

from __future__ import annotations

# Defined in the optimizer, the lowest layer, which imports nothing of mpicg's but itself.
from .optimize._checks import InputError
from .optimize.result import OwnOptimizeWarning, use_warning_class

__all__ = ["EXIT_FAILURE", "EXIT_INPUT", "EXIT_INTERRUPTED", "EXIT_NOT_CONVERGED", "EXIT_OK",
           "FitAborted", "InputError", "RankError", "RemoteEvaluationError", "exit_code_of",
           "is_collective", "is_copy", "mark_collective", "mark_copy",
           "optimize_warning_class"]

#: A solution was written and the fit converged.
EXIT_OK = 0
#: A failure: a model error, a dead or missing rank, a failed write.
EXIT_FAILURE = 1
#: Bad input (arguments, data, job file, progress file, launch); one message names it.
EXIT_INPUT = 2
#: A solution was written, but the fit did not converge (its diagnosis says why: a parameter
#: at an edge of its domain or prior, a Hessian that is not positive definite, the iteration
#: limit, ...); what ``mpicg fit``, ``resume`` and ``demo`` return then.
EXIT_NOT_CONVERGED = 4
#: Stopped by a signal (SIGTERM, SIGUSR1, SIGINT); resume from the progress file (EX_TEMPFAIL).
EXIT_INTERRUPTED = 75

_WARNING_CLASS: list = []


def optimize_warning_class() -> type[Warning]:
    """The class of mpicg's optimize warnings: ``scipy.optimize.OptimizeWarning`` if scipy imports.

    So that ``warnings.simplefilter("error", OptimizeWarning)``, written for scipy, catches
    mpicg's warnings too. Without scipy it is mpicg's own
    :class:`~mpicg.optimize.result.OwnOptimizeWarning` (a ``UserWarning``). scipy is
    imported on the first call only (when a warning is given or ``mpicg.OptimizeWarning`` is
    looked up), not by ``import mpicg``: every MPI rank imports mpicg.
    """
    if not _WARNING_CLASS:
        try:
            from scipy.optimize import OptimizeWarning
        except Exception:  # not installed, or broken: mpicg needs no scipy
            OptimizeWarning = OwnOptimizeWarning
        _WARNING_CLASS.append(OptimizeWarning)
    return _WARNING_CLASS[0]


use_warning_class(optimize_warning_class)


class RankError(RuntimeError):
    """A step failed on one or more ranks; the message names them and shows their tracebacks.

    Attributes
    ----------
    ranks : list of int
        The ranks on which the step failed.
    tracebacks : dict
        Rank -> the traceback text from that rank.
    """

    def __init__(self, message: str, ranks: list[int], tracebacks: dict[int, str]):
        super().__init__(message)
        self.ranks = ranks
        self.tracebacks = tracebacks


class RemoteEvaluationError(RankError):
    """The model failed on one or more ranks while the fit evaluated it."""


class FitAborted(SystemExit):
    """Raised on ranks other than 0 when a fit ends because rank 0 failed on its own.

    Rank 0 raises (and prints) its own error, say a callback's, and the other ranks a quiet
    copy of it (:func:`mark_copy`). Where they cannot (the error does not pickle, or it is
    not an ``Exception``), they leave quietly with this ``SystemExit`` and exit code 1 (or
    the one given). It derives from ``SystemExit`` so an ``except Exception`` in user code
    cannot swallow it and leave the rank behind.
    """

    def __init__(self, reason: str = "the fit failed on another rank (see rank 0's error)",
                 code: int = EXIT_FAILURE):
        super().__init__(code)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


def mark_collective(error: BaseException) -> BaseException:
    """Mark ``error`` as raised on every rank by a collective verdict; returns it."""
    error.mpicg_collective = True
    return error


def mark_copy(error: BaseException) -> BaseException:
    """Mark ``error`` as the copy, on a rank other than 0, of an error rank 0 reports."""
    error.mpicg_collective = True
    error.mpicg_copy = True
    return error


def is_collective(error: BaseException) -> bool:
    """True for an error every rank raised together (no rank is left waiting)."""
    return getattr(error, "mpicg_collective", False)


def is_copy(error: BaseException) -> bool:
    """True on ranks other than 0 for a copy of rank 0's error: report it only once."""
    return getattr(error, "mpicg_copy", False)


def exit_code_of(error: BaseException) -> int:
    """The exit code for an error: 2 for bad input, a ``SystemExit``'s own, else 1."""
    if isinstance(error, InputError):
        return EXIT_INPUT
    if isinstance(error, SystemExit):
        code = error.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_FAILURE)
    return EXIT_FAILURE
