"""The result object: a dict with attribute access, like scipy's ``OptimizeResult``."""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

__all__ = ["OptimizeResult", "OptimizeWarning"]


class OptimizeWarning(UserWarning):
    """A run ended without success (maxiter, precision loss, NaN), or an option was ignored."""


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
    warnings.warn(message, OptimizeWarning, stacklevel=_user_stacklevel())


def _user_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside mpicg (the user's call)."""
    # The mpicg package (this file is mpicg/optimize/result.py): every layer of it.
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level
