"""A problem's fingerprint: what a progress file must match before a fit resumes from it.

The fingerprint is a digest of everything that defines the objective: the data and blocks,
the model (by its settings, never by its memory address, so that every process that builds
it alike, and a later job, get the same text), the fitted parameters, the priors and a
named fit's scales.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import inspect
import json
import re

import numpy as np

__all__ = ["model_identity", "problem_fingerprint", "setting_identity"]


def model_identity(model) -> str:
    """What defines a model, as text that is the same in every process that builds it alike.

    Functions: module and qualified name (their repr holds a memory address; a closure's
    values are left out, since they may be per-process state); bound methods: that and
    their object's identity.
    ``functools.partial``: its function's identity and its arguments. Wrappers (an object
    with another ``model`` inside): the type, the inner model's identity and the wrapper's
    own settings. Objects whose repr shows a memory address (``0x...``: Python's default
    ``<... object at 0x...>``, a plain class of the user's): the type and its public
    attributes, instance and ``__slots__`` (a leading ``_`` marks caches and per-process
    state, such as a scratch directory or a time stamp, which are left out). Other objects:
    their repr (dataclass models show their settings). A model whose description fails
    (a repr or an attribute that raises) counts by its type alone.
    """
    try:
        return _identity(model)
    except Exception:  # (a description is not worth a failed fit)
        return type(model).__module__ + "." + type(model).__qualname__


def _identity(model, depth: int = 0) -> str:
    kind = type(model).__module__ + "." + type(model).__qualname__
    named = (f"{model.__module__}.{model.__qualname__}"
             if hasattr(model, "__qualname__") and hasattr(model, "__module__") else kind)
    if depth > _DEPTH:  # (a model that refers to itself: its name, not a RecursionError)
        return named
    if inspect.ismethod(model):
        return (f"{_identity(model.__func__, depth + 1)}|bound to "
                f"({_identity(model.__self__, depth + 1)})")
    if isinstance(model, type) or inspect.isfunction(model) or named != kind:
        # (a closure's values count no more than its name: they may be per-process state)
        return named
    if isinstance(model, functools.partial):
        return (f"functools.partial|{_identity(model.func, depth + 1)}|"
                f"{setting_identity(model.args, depth + 1)}|"
                f"{setting_identity(model.keywords, depth + 1)}")
    inner = getattr(model, "model", None)
    if inner is not None and inner is not model:
        settings = _settings(model)
        settings.pop("model", None)
        return "|".join([kind, _identity(inner, depth + 1),
                         *(f"{k}={setting_identity(v, depth + 1)}"
                           for k, v in sorted(settings.items()))])
    text = repr(model)
    if not _ADDRESS.search(text):
        return f"{kind}|{text}"
    return "|".join([kind, *(f"{k}={setting_identity(v, depth + 1)}"
                             for k, v in sorted(_settings(model).items()))])


_DEPTH = 8  # how deep a model's description goes into what it holds


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")  # a repr that shows a memory address


def _settings(model) -> dict:
    """A model's settings: a dataclass's fields, else its public attributes (and slots)."""
    if dataclasses.is_dataclass(model):
        return {f.name: getattr(model, f.name) for f in dataclasses.fields(model)}
    found = {k: v for k, v in getattr(model, "__dict__", {}).items() if not k.startswith("_")}
    for klass in type(model).__mro__:
        slots = getattr(klass, "__slots__", ())
        for name in [slots] if isinstance(slots, str) else slots:
            if not name.startswith("_") and hasattr(model, name):
                found.setdefault(name, getattr(model, name))
    return found


def setting_identity(value, depth: int = 0) -> str:
    """A setting as text, the same in every process that builds it alike.

    Numbers, strings and arrays by value (arrays by a digest of their bytes), containers
    item by item, functions by name, dataclasses by their fields; other objects (a bundle,
    an open file) by their type alone, since their state can differ between processes.
    """
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        digest = hashlib.sha256(data.tobytes()).hexdigest()[:16] if data.dtype != object \
            else setting_identity(data.tolist(), depth)
        return f"array({data.dtype},{data.shape},{digest})"
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic)):
        return repr(value)
    if depth >= _DEPTH:
        return type(value).__qualname__
    if isinstance(value, (list, tuple)) and len(value) > 64:
        with contextlib.suppress(Exception):  # (a long list of numbers: as an array)
            numbers_only = np.asarray(value)
            if numbers_only.ndim == 1 and numbers_only.dtype.kind in "iuf":
                return f"{type(value).__name__}{setting_identity(numbers_only)}"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [setting_identity(v, depth + 1) for v in value]
        if isinstance(value, (set, frozenset)):
            items.sort()  # (a set's order differs between processes)
        return f"{type(value).__name__}[{','.join(items)}]"
    if isinstance(value, dict):
        return "{" + ",".join(sorted(f"{setting_identity(k, depth + 1)}:"
                                     f"{setting_identity(v, depth + 1)}"
                                     for k, v in value.items())) + "}"
    if callable(value) and hasattr(value, "__qualname__") and hasattr(value, "__module__"):
        return f"({_identity(value, depth + 1)})"
    if dataclasses.is_dataclass(value):
        return f"({_identity(value, depth + 1)})"
    return type(value).__module__ + "." + type(value).__qualname__


def problem_fingerprint(problem, n_parameters: int, scaling: dict | None = None) -> str:
    """A digest of everything that defines a problem's objective.

    Parameters
    ----------
    problem : SumObjective
        Its data and blocks (:meth:`~.problem.SumObjective.digest`), its model (with the
        fixed values of a named fit), fitted parameters and priors.
    n_parameters : int
        The number of fitted parameters.
    scaling : dict, optional
        A named fit's ``{"offset": ..., "scale": ...}``: its CG runs in scaled variables,
        so the state means nothing without them.
    """
    h = hashlib.sha256()
    h.update(f"{type(problem).__qualname__}|{n_parameters}|".encode())
    h.update(problem.digest().encode())
    h.update(model_identity(getattr(problem, "model", None)).encode())
    h.update(repr(getattr(problem, "fit_parameters", None)).encode())
    priors = getattr(problem, "priors", None)
    h.update(json.dumps(None if priors is None else priors.to_dict(), sort_keys=True,
                        default=repr).encode())
    if scaling is not None:
        for name in ("offset", "scale"):
            h.update(np.ascontiguousarray(scaling[name], dtype=float).tobytes())
    return h.hexdigest()
