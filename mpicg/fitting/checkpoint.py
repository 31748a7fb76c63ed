"""Progress files: the complete CG state, written so that a killed fit resumes to the same bits.

Every ``progress_every_niters`` iterations rank 0 writes the state the iteration carries
(x, f, the previous f, the gradient, the search direction, the iteration), the objective's
counters and its one-point memory, the CG options and a fingerprint of the problem. Floats are
stored as ``float.hex`` strings, so nothing is rounded; the file carries a SHA-256 checksum of
its content, and is written to a temporary file, fsynced and renamed over the previous one, so
a job killed at any moment (``kill -9`` included) leaves either the old file or the new one.

Resuming restores all of it and continues the same trajectory: the result (x, fun, nit, nfev,
njev) is bitwise the uninterrupted run's, with any number of ranks.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..optimize import CGState
from ._files import write_atomically

__all__ = ["Checkpoint", "check_fingerprint", "load_checkpoint", "problem_fingerprint",
           "save_checkpoint"]

FORMAT = "mpicg.progress/1"


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
                        k=int(s["k"]))
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
        The problem's :func:`problem_fingerprint`; a file written for another problem is
        rejected rather than silently restarted.
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
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"progress file {str(path)!r} is incomplete: {e!r}") from None
    if fingerprint is not None:
        check_fingerprint(checkpoint, fingerprint, path)
    return checkpoint


def check_fingerprint(checkpoint: Checkpoint, fingerprint: str, path) -> None:
    """InputError unless the progress file was written for this problem."""
    if checkpoint.fingerprint != fingerprint:
        raise InputError(f"progress file {str(path)!r} belongs to another problem (its "
                         f"fingerprint {checkpoint.fingerprint[:16]}... differs from this "
                         f"problem's {fingerprint[:16]}...): data, model or fitted "
                         "parameters changed")


def _model_identity(model) -> str:
    # Functions: module and qualified name (their repr holds a memory address); other
    # objects: their repr (dataclass models show their settings), recursively for wrappers.
    if hasattr(model, "__qualname__") and hasattr(model, "__module__"):
        return f"{model.__module__}.{model.__qualname__}"
    inner = getattr(model, "model", None)
    parts = [type(model).__module__ + "." + type(model).__qualname__]
    if inner is not None and inner is not model:
        parts.append(_model_identity(inner))
        for name in ("template", "index"):
            if hasattr(model, name):
                parts.append(np.asarray(getattr(model, name)).tobytes().hex())
    else:
        parts.append(repr(model))
    return "|".join(parts)


def problem_fingerprint(problem, n_parameters: int, scaling: dict | None = None) -> str:
    """A digest of a problem's data, blocks, model and number of fitted parameters.

    A named fit's ``scaling`` (``{"offset": ..., "scale": ...}``: its CG runs in scaled
    variables, so the state means nothing without them) is part of the digest.
    """
    h = hashlib.sha256()
    h.update(f"{type(problem).__qualname__}|{n_parameters}|".encode())
    for name in ("times", "flux", "sigma", "edges"):
        value = getattr(problem, name, None)
        if value is not None:
            h.update(np.ascontiguousarray(value).tobytes())
    h.update(_model_identity(getattr(problem, "model", None)).encode())
    h.update(repr(getattr(problem, "fit_parameters", None)).encode())
    if scaling is not None:
        for name in ("offset", "scale"):
            h.update(np.ascontiguousarray(scaling[name], dtype=float).tobytes())
    return h.hexdigest()
