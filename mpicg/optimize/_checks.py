"""Checks of the optimizer's arguments: each error names the argument and the value at fault.

:class:`InputError` is defined here, in the lowest layer, so that the optimizer (which imports
nothing of mpicg's but itself) raises the same error every layer above raises for bad input;
:mod:`mpicg.errors` re-exports it.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "DEFAULT_C1",
    "DEFAULT_C2",
    "InputError",
    "check_callable",
    "check_cg_options",
    "check_line_search_constants",
    "check_line_search_constants_as_scipy",
    "check_maxiter",
    "check_nonnegative",
    "check_norm",
    "check_step",
    "check_x0",
    "objective_value",
    "show_value",
]

#: The strong Wolfe constants' defaults (scipy's, and every mpicg entry point's).
DEFAULT_C1, DEFAULT_C2 = 1e-4, 0.4


class InputError(ValueError):
    """Bad input (arguments, data, options); the message names the culprit and its value."""


InputError.__module__ = "mpicg"  # tracebacks show its public name, mpicg.InputError


def show_value(value, limit: int = 200) -> str:
    """``repr(value)``, cut to ``limit`` characters, for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def check_callable(value, name: str, optional: bool = False) -> None:
    """Raise TypeError unless ``value`` is callable (or None when ``optional``)."""
    if value is None and optional:
        return
    if not callable(value):
        raise TypeError(f"`{name}` must be callable; got {show_value(value)} "
                        f"of type {type(value).__name__}")


def check_x0(x0, name: str = "x0") -> np.ndarray:
    """The starting point as a fresh 1-D float64 array; InputError (TypeError for non-numbers)."""
    try:
        arr = np.atleast_1d(np.asarray(x0))
    except Exception as e:  # ragged lists and the like
        raise InputError(f"`{name}` must be a 1-D array of numbers; got {show_value(x0)}") from e
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must be a 1-D array of real numbers; got {show_value(x0)} "
                        f"with dtype {arr.dtype}")
    if arr.ndim != 1:
        raise InputError(f"`{name}` must be 1-D; got an array of shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"`{name}` must not be empty; got {show_value(x0)}")
    arr = arr.astype(np.float64)  # always a copy, never the caller's array
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr)).tolist()
        raise InputError(f"`{name}` must be finite; got {show_value(x0)} "
                         f"(non-finite at index {bad})")
    return arr


def _is_real_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_nonnegative(value, name: str) -> float:
    """A real number >= 0, or InputError (a ValueError) naming ``name``."""
    if not _is_real_number(value) or math.isnan(value) or value < 0:
        raise InputError(f"`{name}` must be a number >= 0; got {show_value(value)}")
    return float(value)


def check_maxiter(maxiter, n: int, name: str = "maxiter", any_number: bool = False,
                  default_text: str | None = None):
    """``maxiter`` as an int >= 1; None means ``200 * n`` as in scipy.

    With ``any_number`` (the scipy drop-ins) any real number but NaN is taken as scipy
    takes it: CG iterates while ``k < maxiter``, so 2.5 allows 3 iterations and 0 or less
    none (the run ends at ``x0`` with status 1). ``default_text`` says in messages what
    the caller's default is, where it is not scipy's ``200 * len(x0)``.
    """
    if maxiter is None:
        return 200 * n
    if any_number:
        if not _is_real_number(maxiter) or math.isnan(maxiter):
            raise InputError(f"`{name}` must be a number (or None for 200*len(x0)); "
                             f"got {show_value(maxiter)}")
        return maxiter
    default = "None for 200*len(x0)" if default_text is None else default_text
    ok = (
        _is_real_number(maxiter)
        and (isinstance(maxiter, numbers.Integral) or float(maxiter).is_integer()
             or maxiter == math.inf)
        and maxiter >= 1
    )
    if not ok:
        raise InputError(f"`{name}` must be an integer >= 1 (or {default}); "
                         f"got {show_value(maxiter)}")
    return maxiter if maxiter == math.inf else int(maxiter)


def check_line_search_constants(c1, c2) -> tuple[float, float]:
    """``c1``, ``c2`` with ``0 < c1 < c2 < 1`` (the strong Wolfe conditions need it)."""
    if not (_is_real_number(c1) and _is_real_number(c2) and 0 < c1 < c2 < 1):
        raise InputError(f"`c1` and `c2` must satisfy 0 < c1 < c2 < 1; "
                         f"got c1={show_value(c1)}, c2={show_value(c2)}")
    return float(c1), float(c2)


def check_line_search_constants_as_scipy(c1, c2) -> None:
    """Raise as scipy's line search does unless ``0 < c1 < c2 < 1`` (its words, and values).

    The scipy drop-ins check at the first line search, as scipy does: after f and its
    gradient at ``x0`` were computed, and not at all when no iteration runs.
    """
    if not (_is_real_number(c1) and _is_real_number(c2) and 0 < c1 < c2 < 1):
        raise InputError(f"'c1' and 'c2' do not satisfy '0 < c1 < c2 < 1'; "
                         f"got c1={show_value(c1)}, c2={show_value(c2)}")


def check_norm(norm, zero_allowed: bool = True) -> float:
    """The order of the gradient norm: a number, not NaN (``inf``/``-inf`` allowed).

    ``zero_allowed``: scipy takes 0, and its norm then divides by zero at the first
    iteration (the drop-ins do the same); mpicg's own fits refuse it before any evaluation.
    """
    if isinstance(norm, bool) or not isinstance(norm, int | float | np.number) or np.isnan(norm) \
            or (norm == 0 and not zero_allowed):
        raise InputError(f"`norm` must be a non-zero number (an order such as 2 or inf); got "
                         f"{norm!r}")
    return norm


def check_cg_options(x0: np.ndarray, gtol, norm, maxiter, c1, c2, callback,
                     as_scipy: bool = False) -> dict:
    """Check the CG options once; return them normalized (``maxiter`` resolved).

    With ``as_scipy`` (the scipy drop-ins), ``maxiter`` may be any number and ``c1``, ``c2``
    are left for the first line search to check
    (:func:`check_line_search_constants_as_scipy`), as scipy does.
    """
    gtol = check_nonnegative(gtol, "gtol")
    if not as_scipy:
        c1, c2 = check_line_search_constants(c1, c2)
    maxiter = check_maxiter(maxiter, x0.size, any_number=as_scipy)
    norm = check_norm(norm, zero_allowed=as_scipy)
    check_callable(callback, "callback", optional=True)
    return {"gtol": gtol, "norm": norm, "maxiter": maxiter, "c1": c1, "c2": c2}


def check_step(step, n: int, name: str) -> float | np.ndarray:
    """A finite-difference step: a finite scalar or a finite array of shape (n,)."""
    arr = np.asarray(step)
    if arr.dtype.kind not in "biuf" or arr.ndim > 1 or (arr.ndim == 1 and arr.shape != (n,)):
        raise InputError(f"`{name}` must be a number or a 1-D array of length len(x0)={n}; "
                         f"got {show_value(step)}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"`{name}` must be finite; got {show_value(step)}")
    return float(arr) if arr.ndim == 0 else arr.astype(np.float64)


def _real_array(value) -> np.ndarray | None:
    """``value`` as a float array if it holds real numbers (not None, bool or text), else None."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        return None
    if arr.dtype.kind not in "iuf":
        return None
    return arr.astype(np.float64)


def objective_value(value, name: str, x: np.ndarray | None = None) -> float:
    """A value returned by the objective as a float; a clear error if it is not a scalar."""
    at = "" if x is None else f" at x = {show_value(np.asarray(x).tolist())}"
    arr = _real_array(value)
    if arr is None:
        raise TypeError(f"objective `{name}` must return a real scalar; it returned "
                        f"{show_value(value)} of type {type(value).__name__}{at}")
    if arr.size != 1:
        raise InputError(f"objective `{name}` must return a scalar; it returned an array of "
                         f"shape {arr.shape}{at}")
    return float(arr.reshape(()))

