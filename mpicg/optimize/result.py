"""The result object: a dict with attribute access, like scipy's ``OptimizeResult``."""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

__all__ = ["OptimizeResult", "OwnOptimizeWarning", "use_warning_class", "warn_unsuccessful",
           "warning_class"]


class OwnOptimizeWarning(UserWarning):
    """A run ended without success (maxiter, precision loss, NaN), or an option was ignored.

    mpicg's own class, warned when scipy cannot be imported. ``mpicg.OptimizeWarning`` is
    whichever class is warned: scipy's ``scipy.optimize.OptimizeWarning`` when scipy can be
    imported (so filters written for scipy catch mpicg's warnings), else this one.
    """


# Warnings print the class's name: "OptimizeWarning", as scipy's.
OwnOptimizeWarning.__name__ = OwnOptimizeWarning.__qualname__ = "OptimizeWarning"

# The optimizer imports nothing outside numpy and the standard library, so the class to warn
# with is chosen above it (mpicg.errors registers a resolver that looks for scipy's) and
# asked for only when a warning is given: importing scipy costs time on every rank.
_resolver: list = [lambda: OwnOptimizeWarning]


def use_warning_class(resolver) -> None:
    """Set ``resolver() -> Warning subclass``, asked for the class each time one is warned."""
    _resolver[0] = resolver


def warning_class() -> type[Warning]:
    """The class mpicg's optimize warnings are given with (see :class:`OwnOptimizeWarning`)."""
    return _resolver[0]()


class OptimizeResult(dict):
    """The outcome of a minimization.

    Attributes
    ----------
    x : ndarray
        The solution.
    fun : float
        The objective at ``x``.
    jac : ndarray
        The gradient at ``x``.
    nit : int
        Iterations done.
    nfev, njev : int
        Objective values computed (finite-difference points included) and gradients.
    status : int
        0 success, 1 maxiter reached, 2 line-search failure / precision loss, 3 NaN,
        99 halted by a callback's ``StopIteration``.
    success : bool
        ``status == 0``.
    message : str
        Why the run ended.
    allvecs : list of ndarray
        Every iterate, with ``return_all``.

    Notes
    -----
    Keys can be read as attributes (``res.x``) or items (``res["x"]``), as in scipy.
    """

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(name) from e

    __setattr__ = dict.__setitem__
    __delattr__ = dict.__delitem__

    def __dir__(self) -> list[str]:
        return list(self.keys())

    def __repr__(self) -> str:
        if not self:
            return f"{type(self).__name__}()"
        width = max(map(len, self.keys())) + 1
        with np.printoptions(threshold=20, edgeitems=3):
            lines = [f"{k.rjust(width)}: {v!r}".replace("\n", "\n" + " " * (width + 2))
                     for k, v in self.items()]
        return "\n".join(lines)


def warn_unsuccessful(message: str) -> None:
    """Warn that a run ended without success, as scipy's ``disp`` does, at the user's line."""
    warn_at_user(message, warning_class())


def warn_at_user(message: str, category: type[Warning] = UserWarning) -> None:
    """Warn at the user's line (the first frame outside mpicg)."""
    warnings.warn(message, category, stacklevel=_user_stacklevel())


def _user_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside mpicg (the user's call)."""
    # The mpicg package (this file is mpicg/optimize/result.py): every layer of it.
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level
