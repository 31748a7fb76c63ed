"""Progress files: the complete CG state, written so that a killed fit resumes to the same bits.

Every ``progress_every_niters`` iterations rank 0 writes the state the iteration carries
(x, f, the previous f, the gradient, the search direction, the iteration), the objective's
counters and its one-point memory, the CG options and a fingerprint of the problem. Floats are
stored as ``float.hex`` strings, so nothing is rounded; the file carries a SHA-256 checksum of
its content, and is written to a temporary file, fsynced and renamed over the previous one, so
a job killed at any moment (``kill -9`` included) leaves either the old file or the new one.

Resuming restores all of it and continues the same trajectory: the result (x, fun, nit, nfev,
njev) is bitwise the uninterrupted run's, with any number of ranks. The fingerprint covers
everything that defines the objective (data, blocks, model and its fixed values, fitted
parameters, priors, and any scales the caller adds), so a file is never resumed on another
problem; and the content is checked after the checksum (a re-checksummed file with k < 0 or
a NaN in x is an error, not a resumed fit).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..optimize import (
    CGState,
    check_line_search_constants,
    check_maxiter,
    check_nonnegative,
    check_norm,
)
from ._files import write_atomically

__all__ = ["Checkpoint", "check_fingerprint", "load_checkpoint", "save_checkpoint"]

# 2: the fingerprint covers the priors (files of format 1 cannot be checked against them).
FORMAT = "mpicg.progress/2"


def _hex(value: float) -> str:
    return float(value).hex()


def _hexes(array) -> list[str] | None:
    return None if array is None else [float(v).hex() for v in np.asarray(array, dtype=float)]


def _unhex(text: str) -> float:
    return float.fromhex(text)


def _unhexes(texts) -> np.ndarray | None:
    return None if texts is None else np.array([float.fromhex(t) for t in texts])


@dataclass
class Checkpoint:
    """Everything needed to continue a CG run exactly.

    Attributes
    ----------
    state : CGState
        The iteration's state after ``state.k`` iterations.
    counters : dict
        ``nfev``, ``njev``, ``rounds`` so far.
    memory : dict
        The objective's remembered point: ``x``, ``f``, ``g`` (each may be None).
    fun_initial : float
        The objective at the start.
    options : dict
        The CG options (``gtol``, ``norm``, ``maxiter``, ``c1``, ``c2``), the gradient
        rule (``fd``: method, absolute and relative steps) and, for a named fit, its
        ``scaling`` (offsets and scales of the variables, their sources, the probes' cost).
    fingerprint : str
        A digest of the problem (data, model, parameters); resuming another problem fails.
    allvecs : list of ndarray or None
        The iterates so far, with ``return_all``.
    """

    state: CGState
    counters: dict
    memory: dict
    fun_initial: float
    options: dict
    fingerprint: str
    allvecs: list | None = None

    def to_payload(self) -> dict:
        """The JSON-safe content (floats as hex strings)."""
        s = self.state
        return {
            "state": {"x": _hexes(s.x), "f": _hex(s.f), "f_previous": _hex(s.f_previous),
                      "g": _hexes(s.g), "p": _hexes(s.p), "gnorm": _hex(s.gnorm), "k": s.k},
            "counters": {k: int(v) for k, v in self.counters.items()},
            "memory": {"x": _hexes(self.memory.get("x")),
                       "f": None if self.memory.get("f") is None else _hex(self.memory["f"]),
                       "g": _hexes(self.memory.get("g"))},
            "fun_initial": _hex(self.fun_initial),
            "options": _encode_options(self.options),
            "fingerprint": self.fingerprint,
            "allvecs": None if self.allvecs is None else [_hexes(v) for v in self.allvecs],
        }

    @classmethod
    def from_payload(cls, p: dict) -> Checkpoint:
        """Rebuild from :meth:`to_payload`'s output."""
        s = p["state"]
        state = CGState(x=_unhexes(s["x"]), f=_unhex(s["f"]), f_previous=_unhex(s["f_previous"]),
                        g=_unhexes(s["g"]), p=_unhexes(s["p"]), gnorm=_unhex(s["gnorm"]),
                        k=s["k"])  # checked (an integer >= 0) after loading
        m = p["memory"]
        memory = {"x": _unhexes(m["x"]), "f": None if m["f"] is None else _unhex(m["f"]),
                  "g": _unhexes(m["g"])}
        allvecs = None if p["allvecs"] is None else [_unhexes(v) for v in p["allvecs"]]
        return cls(state=state, counters=dict(p["counters"]), memory=memory,
                   fun_initial=_unhex(p["fun_initial"]), options=_decode_options(p["options"]),
                   fingerprint=p["fingerprint"], allvecs=allvecs)


def _encode_options(options: dict) -> dict:
    out = {}
    for key, value in options.items():
        if isinstance(value, np.ndarray):
            out[key] = {"array": _hexes(value)}
        elif isinstance(value, float):
            out[key] = {"float": _hex(value)}
        elif isinstance(value, dict):
            out[key] = {"dict": _encode_options(value)}
        else:
            out[key] = {"value": value}
    return out


def _decode_options(options: dict) -> dict:
    out = {}
    for key, wrapped in options.items():
        (kind, value), = wrapped.items()
        out[key] = {"array": _unhexes, "float": _unhex, "dict": _decode_options,
                    "value": lambda v: v}[kind](value)
    return out


def _digest(payload: dict) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def save_checkpoint(path: str | os.PathLike, checkpoint: Checkpoint) -> Path:
    """Write a progress file atomically: temporary file, fsync, rename, fsync the folder."""
    payload = checkpoint.to_payload()
    document = {"format": FORMAT, "sha256": _digest(payload), "payload": payload}
    return write_atomically(path, json.dumps(document))


def load_checkpoint(path: str | os.PathLike, fingerprint: str | None = None) -> Checkpoint:
    """Read a progress file; a clear InputError if it is missing, damaged or another problem's.

    Parameters
    ----------
    path : str or path
        The progress file.
    fingerprint : str, optional
        The problem's :func:`~.fingerprint.problem_fingerprint`; a file written for another
        problem is rejected rather than silently restarted.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"progress file {str(path)!r} does not exist") from None
    except OSError as e:
        raise InputError(f"progress file {str(path)!r} cannot be read: {e}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"progress file {str(path)!r} is truncated or not a progress file "
                         f"({len(text)} bytes; {e.msg} at byte {e.pos})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise InputError(f"{str(path)!r} is not an mpicg progress file (format {found!r}, "
                         f"expected {FORMAT!r})")
    payload = document.get("payload")
    if not isinstance(payload, dict) or _digest(payload) != document.get("sha256"):
        raise InputError(f"progress file {str(path)!r} is corrupted: its content does not "
                         "match its SHA-256 checksum")
    try:
        checkpoint = Checkpoint.from_payload(payload)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise InputError(f"progress file {str(path)!r} is incomplete: {e!r}") from None
    problem = _content_problem(checkpoint)
    if problem is not None:
        raise InputError(f"progress file {str(path)!r} is not a valid CG state: {problem} "
                         "(its checksum matches, so it was written so, or edited and "
                         "re-checksummed)")
    if fingerprint is not None:
        check_fingerprint(checkpoint, fingerprint, path)
    return checkpoint


def _content_problem(c: Checkpoint) -> str | None:
    """What is wrong with a checkpoint's content, or None: shapes, signs, finiteness."""
    s = c.state
    if isinstance(s.k, bool) or not isinstance(s.k, int) or s.k < 0:
        return f"the iteration k = {s.k!r} must be an integer >= 0"
    n = 0 if s.x is None else s.x.size
    for name, value in (("x", s.x), ("g", s.g), ("p", s.p)):
        if value is None or value.ndim != 1 or value.size != n or n == 0:
            return f"{name} must be a 1-D array of the same length as x ({n})"
        if not np.all(np.isfinite(value)):
            return f"{name} must be finite; it holds {value.tolist()}"
    if not math.isfinite(s.f) or math.isnan(s.f_previous) or math.isnan(c.fun_initial):
        return (f"f = {s.f!r}, f_previous = {s.f_previous!r} and fun_initial = "
                f"{c.fun_initial!r} must be numbers (f finite)")
    if not s.gnorm >= 0:
        return f"the gradient norm {s.gnorm!r} must be >= 0"
    counters = c.counters
    if set(counters) != {"nfev", "njev", "rounds"} or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in counters.values()):
        return f"the counters {counters!r} must be nfev, njev, rounds: integers >= 0"
    for name in ("x", "g"):
        value = c.memory.get(name)
        if value is not None and (value.ndim != 1 or value.size != n):
            return f"the remembered {name} must be None or have length {n}"
    if c.allvecs is not None and any(v.ndim != 1 or v.size != n for v in c.allvecs):
        return f"every stored iterate must have length {n}"
    return _options_problem(c.options, n)


def _options_problem(options: dict, n: int) -> str | None:
    try:
        check_nonnegative(options["gtol"], "gtol")
        check_norm(options["norm"])
        check_maxiter(options["maxiter"], n)
        check_line_search_constants(options["c1"], options["c2"])
        fd = options["fd"]
        if fd["method"] not in ("forward", "central", "2-point", "3-point"):
            return f"the finite-difference method {fd['method']!r} is unknown"
        for key in ("abs_step", "rel_step"):
            step = fd[key]
            if step is not None and (np.shape(step) != (n,) or not np.all(
                    np.isfinite(step) | np.isnan(step))):
                return f"the finite-difference {key} must be None or {n} numbers"
    except (KeyError, TypeError) as e:
        return f"the options lack or mistype {e}"
    except ValueError as e:
        return f"the options are invalid: {e}"
    return None


def check_fingerprint(checkpoint: Checkpoint, fingerprint: str, path) -> None:
    """InputError unless the progress file was written for this problem."""
    if checkpoint.fingerprint != fingerprint:
        raise InputError(f"progress file {str(path)!r} belongs to another problem (its "
                         f"fingerprint {checkpoint.fingerprint[:16]}... differs from this "
                         f"problem's {fingerprint[:16]}...): the data, blocks, model, fixed "
                         "values, fitted parameters, priors or scales changed")
