"""The errors and warnings mpicg raises, and the exit codes they map to."""

from __future__ import annotations

# Defined in the optimizer, the lowest layer, which imports nothing of mpicg's but itself.
from .optimize._checks import InputError
from .optimize.result import OwnOptimizeWarning, use_warning_class

__all__ = ["EXIT_INPUT", "EXIT_NOT_CONVERGED", "FitAborted", "InputError",
           "RemoteEvaluationError", "optimize_warning_class"]

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


class RemoteEvaluationError(RuntimeError):
    """The model failed on one or more ranks; the message names them and shows tracebacks.

    Attributes
    ----------
    ranks : list of int
        The ranks whose evaluation failed.
    tracebacks : dict
        Rank -> the remote traceback text.
    """

    def __init__(self, message: str, ranks: list[int], tracebacks: dict[int, str]):
        super().__init__(message)
        self.ranks = ranks
        self.tracebacks = tracebacks


class FitAborted(SystemExit):
    """Raised on ranks other than 0 when a collective fit ends in an error.

    Rank 0 raises (and prints) the real error; the other ranks leave quietly with exit code 1
    (2 when the error is bad input, as the ``mpicg`` command's rank 0 exits), so a job prints
    one error instead of one per rank, and ``mpirun`` (which combines the ranks' exit codes)
    reports rank 0's. It derives from ``SystemExit`` so an ``except Exception`` in user code
    cannot swallow it and leave the rank behind.
    """

    def __init__(self, reason: str = "the fit failed on another rank (see rank 0's error)",
                 code: int = 1):
        super().__init__(code)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


#: Exit code of every rank when the input is bad (what ``mpicg`` returns for InputError).
EXIT_INPUT = 2

#: Exit code of every rank when a fit wrote its solution but did not converge (its
#: diagnosis says why: a parameter at an edge of its domain or prior, a Hessian that is not
#: positive definite, the iteration limit, ...); what ``mpicg fit``, ``resume`` and
#: ``demo`` return then.
EXIT_NOT_CONVERGED = 4
