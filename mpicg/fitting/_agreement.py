"""What every rank of a collective fit must give alike, and which ranks gave otherwise.

Only rank 0's arguments are used. A rank whose objective would take another path than rank
0's (the blocks of a :class:`~.problem.SumObjective`, or the points of a plain callable)
would wait in collectives that the others never call; a rank whose other arguments differ
is a script whose ranks went their own ways. So before the work is shared, every rank
describes what it was given (:func:`describe`), the ranks allgather the descriptions, and
every rank judges every rank from that same list (:func:`disagreements`): the ranks that go
on all go on into the same collectives, or none does. A rank that passed None for a Problem
takes rank 0's, with rank 0's arguments.
"""

from __future__ import annotations

import hashlib
import numbers
import os

import numpy as np

from .fingerprint import setting_identity
from .problem import SumObjective

__all__ = ["describe", "disagreements", "is_sum_kind"]


def describe(fun, pair, jac_name: str, x0, args: tuple = (), leading: tuple = (),
             **options) -> tuple:
    """A rank's ``(kind, arguments)``: what it computes, and its arguments as text.

    ``pair`` is the value-and-gradient wrapper of ``jac=True`` (or None); ``leading``,
    ``(name, text)`` pairs compared before ``x0`` (a named fit's ``fit_parameters``, from
    which its ``x0`` follows: a difference there is named as such, not as one of an ``x0``
    the user never gave). Never raises: an argument that cannot be described says so
    (every rank must reach the allgather).
    """
    try:
        agreement = tuple(leading) + _arguments_to_agree(x0, args, **options)
    except Exception as e:
        agreement = (("arguments", f"unreadable: {type(e).__name__}: {e}"),)
    return _kind(fun, pair, jac_name), agreement


def is_sum_kind(described: tuple) -> bool:
    """Whether a rank's description is of a SumObjective (the blocks path)."""
    return described[0][0] == "sum"


def disagreements(described: list, fun_name: str) -> dict[int, str]:
    """Rank -> why it cannot go on with rank 0 (empty: every rank can).

    From every rank's :func:`describe`, so every rank finds the same.
    """
    kinds = [kind for kind, _ in described]
    wrong = _kinds_that_differ(kinds, fun_name)
    first = described[0][1]
    for r, ((kind, _), agreed) in enumerate(described):
        if r not in wrong and kind is not None:
            difference = _argument_difference(agreed, first)
            if difference is not None:
                wrong[r] = difference
    return wrong


def _kind(fun, pair, jac_name: str) -> tuple[str | None, str]:
    """How this rank's objective is computed, and its description for messages."""
    if fun is None:
        return None, "None"
    if isinstance(fun, SumObjective):
        return "sum", f"a {type(fun).__name__} (a SumObjective)"
    if not callable(fun):
        return "other", f"a {type(fun).__name__}, not callable"
    if pair is not None:
        return "pair", f"a callable with `{jac_name}`=True (it returns (f, g))"
    return "plain", "a callable"


def _kinds_that_differ(kinds: list, fun_name: str) -> dict[int, str]:
    """The ranks whose objective cannot take rank 0's path, with why (every rank judges).

    A rank may pass None when rank 0's objective is a SumObjective (rank 0 then sends it);
    a plain callable is not sent, so every rank must pass its own.
    """
    first, first_text = kinds[0]
    wrong = {}
    for r, (kind, text) in enumerate(kinds):
        if kind is None and first != "sum":
            wrong[r] = (f"`{fun_name}` is None on this rank and rank 0's is {first_text}: "
                        "only a Problem (a SumObjective) is sent to ranks that pass None; "
                        "give every rank its own objective")
        elif kind is not None and kind != first:
            wrong[r] = (f"`{fun_name}` on this rank is {text} and rank 0's is {first_text}: "
                        "every rank must call the fit with the same arguments (only rank "
                        "0's are used)")
    return wrong


def _arguments_to_agree(x0, args: tuple, **options) -> tuple:
    """The arguments every rank must give alike, as ``(name, text)`` pairs to compare.

    Only rank 0's are used; another rank's that differ are a script whose ranks went
    their own ways (refused, on ranks that pass their own objective). ``x0`` counts by its
    values (None on a resume), ``args`` by their settings' text
    (:func:`.fingerprint.setting_identity`: numbers and arrays by value, other objects by
    their type), the options by their value (a number of any type, and each of ``args``
    that is a number, as a float). The model is not compared: it may hold per-process
    state (a scratch directory, a slower rank's factor).
    """
    try:
        values = None if x0 is None else np.asarray(x0, dtype=float).ravel()
    except (TypeError, ValueError):
        values = None
    if values is None:
        start = repr(x0)  # (rank 0's own check names a bad one)
    elif values.size <= 8:
        start = repr(values.tolist())  # (a float's repr gives back its bits)
    else:
        start = (f"{values.size} values, sha256 "
                 f"{hashlib.sha256(values.tobytes()).hexdigest()[:16]}")
    pairs = [("x0", start), ("args", setting_identity(tuple(_plain(a) for a in args)))]
    pairs += [(name, repr(_plain(value))) for name, value in options.items()]
    return tuple(pairs)


def _argument_difference(agreement: tuple, first: tuple) -> str | None:
    """Which of a rank's arguments differs from rank 0's, and how (None: none does)."""
    for (name, text), (_, expected) in zip(agreement, first, strict=False):
        if text != expected:
            return (f"`{name}` on this rank ({_around_difference(text, expected)}) differs "
                    f"from rank 0's ({_around_difference(expected, text)}): every rank must "
                    "call the fit with the same arguments (only rank 0's are used)")
    return None


def _around_difference(text: str, other: str, width: int = 80) -> str:
    """``text``, or the part of it around where it first differs from ``other``."""
    if len(text) <= width:
        return text
    at = next((i for i, (a, b) in enumerate(zip(text, other, strict=False)) if a != b),
              min(len(text), len(other)))
    start = max(0, at - width // 4)
    return ("..." if start else "") + text[start:start + width] + (
        "..." if start + width < len(text) else "")


def _plain(value, depth: int = 0):
    """An argument as a plain Python value: numbers by their value, paths as text.

    Numbers count by value in tuples, lists and dicts too; other containers as they are.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if depth < 8 and type(value) in (tuple, list):
        return type(value)(_plain(v, depth + 1) for v in value)
    if depth < 8 and type(value) is dict:
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    return value
