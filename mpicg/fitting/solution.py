"""The solution of a named fit: what PHOEBE users expect back from ``optimizer.cg``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ..errors import InputError
from ._files import write_atomically
from .diagnosis import Diagnosis

__all__ = ["Solution", "load_solution"]

FORMAT = "mpicg.solution/1"


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return repr(value)  # JSON has no inf/nan; "inf", "-inf", "nan" read back with float()
    return value


_NON_FINITE = {"inf": np.inf, "-inf": -np.inf, "nan": np.nan}


def _restore_non_finite(value):
    """Undo :func:`_json_safe`'s spelling of inf and nan."""
    if isinstance(value, dict):
        return {k: _restore_non_finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore_non_finite(v) for v in value]
    if isinstance(value, str) and value in _NON_FINITE:
        return float(_NON_FINITE[value])
    return value


def _floats(values: dict) -> dict[str, float]:
    return {k: float(v) for k, v in values.items()}


def _with_sigma(value: float, sigma: float) -> str:
    """``value ± sigma``, the value to the σ's second significant digit."""
    if not (np.isfinite(sigma) and sigma > 0):
        return f"{value:.10g} ± {sigma:.2g}"
    digits = max(0, 1 - int(np.floor(np.log10(sigma))))
    if abs(value) >= 1e6 or (digits > 8 and abs(value) < 1e-3):
        return f"{value:.10g} ± {sigma:.2g}"
    return f"{value:.{digits}f} ± {sigma:.2g}"


@dataclass
class Solution:
    """The outcome of :func:`mpicg.optimizer_cg`.

    Attributes
    ----------
    fit_parameters : list of str
        The parameters that were varied, in order.
    initial_values, fitted_values : dict
        Name -> value at the start and at the solution (fitted parameters only).
    fixed_values : dict
        Name -> value of every parameter that was not varied.
    units : dict
        Name -> unit, for every parameter.
    message : str
        Why the optimizer stopped (scipy's words).
    success : bool
        ``status == 0``.
    status : int
        0 success, 1 maxiter, 2 precision loss / line-search failure, 3 NaN, 99 halted.
    nit, nfev, njev, rounds : int
        Iterations, model evaluations, gradients, collective rounds.
    wall_time : float
        Seconds, on rank 0.
    n_ranks : int
        Ranks that shared the evaluations.
    fun : float
        -ln p at the solution.
    lnprobabilities : dict or None
        ``{"initial": ln p(start), "final": ln p(solution)}`` when
        ``expose_lnprobabilities`` was set; taken from evaluations the fit makes anyway.
    options : dict
        The solver options used (JSON-safe).
    model : str
        A description of the model.
    diagnosis : Diagnosis or None
        Whether the fit converged (``converged``, ``converged within the noise`` or ``not
        converged``) and why (:mod:`.diagnosis`).
    scales : dict or None
        Name -> the scale ``s`` CG's variables ``u = (x - x0) / s`` used, in the
        parameter's unit (1 for ``scale="none"``).
    scale_sources : dict or None
        Name -> where the scale came from (``"curvature"``, ``"prior"``, ``"probe step"``,
        ``"given"``, ``"none"``).
    uncertainties : dict or None
        Name -> σ, the square root of the covariance's diagonal (None when not computed
        or when the Hessian is not positive definite; :attr:`uncertainties_note` says why).
    covariance : ndarray, shape (n, n) or None
        The inverse Hessian of -ln p at the solution, in :attr:`fit_parameters` order and
        the parameters' units.
    correlation : ndarray, shape (n, n) or None
        The covariance normalised by the σ's.
    nfev_scales, nfev_uncertainties : int
        Model evaluations of the scales' curvature probes and of the Hessian (or, for a
        parameter at an edge, of the probes there), not counted in :attr:`nfev` (which
        counts the CG's, as scipy does).
    uncertainties_note : str
        Why there are no uncertainties, or why they may be off by tens of percent (their
        check in the covariance's own axes failed); "" when they passed it.
    balance : dict or None
        How the ranks shared the work: ``sharing``, ``imbalance_before``,
        ``imbalance_after``, ``rebalances`` (see :func:`mpicg.fit`).
    """

    fit_parameters: list[str]
    initial_values: dict[str, float]
    fitted_values: dict[str, float]
    fixed_values: dict[str, float]
    units: dict[str, str]
    message: str
    success: bool
    status: int
    nit: int
    nfev: int
    njev: int
    rounds: int
    wall_time: float
    n_ranks: int
    fun: float
    lnprobabilities: dict[str, float] | None = None
    options: dict = field(default_factory=dict)
    model: str = ""
    diagnosis: Diagnosis | None = None
    scales: dict[str, float] | None = None
    scale_sources: dict[str, str] | None = None
    uncertainties: dict[str, float] | None = None
    covariance: np.ndarray | None = None
    correlation: np.ndarray | None = None
    nfev_scales: int = 0
    nfev_uncertainties: int = 0
    uncertainties_note: str = ""
    balance: dict | None = None

    def __post_init__(self):
        for name in ("covariance", "correlation"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, np.array(value, dtype=float))
        if isinstance(self.diagnosis, dict):
            self.diagnosis = Diagnosis.from_dict(self.diagnosis)

    def __eq__(self, other) -> bool:
        # Field by field, with the matrices compared as arrays (NaN equal to NaN).
        if not isinstance(other, Solution):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None

    @property
    def converged(self) -> bool:
        """Whether the diagnosis says converged (or converged within the noise)."""
        return self.diagnosis is not None and self.diagnosis.converged

    @property
    def x(self) -> np.ndarray:
        """The fitted values as a vector, in the order of :attr:`fit_parameters`."""
        return np.array([self.fitted_values[k] for k in self.fit_parameters])

    def adopt(self, parameters: dict | None = None) -> dict[str, float]:
        """A parameter set with the fitted values adopted.

        ``parameters`` (by default the fit's own fixed values) updated with
        :attr:`fitted_values`; the argument itself is not modified.
        """
        adopted = dict(self.fixed_values if parameters is None else parameters)
        adopted.update(self.fitted_values)
        return adopted

    def summary(self) -> str:
        """A few lines for people: the diagnosis, values ± σ with units, counts."""
        extra = [f"{k} {v}" for k, v in (("for the scales", self.nfev_scales),
                                          ("for the uncertainties",
                                           self.nfev_uncertainties)) if v]
        lines = [f"{self.message} (status {self.status}) after {self.nit} iterations, "
                 f"{self.nfev} model evaluations"
                 + (f" (and {', '.join(extra)})" if extra else "")
                 + f" in {self.rounds} rounds on {self.n_ranks} rank(s), "
                 f"{self.wall_time:.2f} s"]
        if self.diagnosis is not None:
            lines.append(f"  diagnosis: {self.diagnosis}")
        width = max(map(len, self.fit_parameters))
        for name in self.fit_parameters:
            unit = f" {self.units.get(name, '')}".rstrip()
            value = f"{self.fitted_values[name]:.10g}"
            if self.uncertainties is not None:
                value = _with_sigma(self.fitted_values[name], self.uncertainties[name])
            lines.append(f"  {name:<{width}} = {value}{unit}"
                         f"   (start {self.initial_values[name]:.10g})")
        if self.correlation is not None and len(self.fit_parameters) > 1:
            pairs = [(abs(self.correlation[i, j]), i, j)
                     for i in range(len(self.fit_parameters))
                     for j in range(i + 1, len(self.fit_parameters))]
            _, i, j = max(pairs)
            lines.append(f"  strongest correlation: {self.fit_parameters[i]}, "
                         f"{self.fit_parameters[j]}: {self.correlation[i, j]:+.3f}")
        if self.uncertainties is None and self.uncertainties_note:
            lines.append(f"  no uncertainties: {self.uncertainties_note}")
        elif self.uncertainties_note:
            lines.append(f"  uncertainties: {self.uncertainties_note}")
        lines.append(f"  -ln p = {self.fun:.6f}")
        if self.lnprobabilities is not None:
            lines.append(f"  ln p: initial {self.lnprobabilities['initial']:.6f}, "
                         f"final {self.lnprobabilities['final']:.6f}")
        if self.balance is not None and self.n_ranks > 1:
            lines.append(f"  imbalance (slowest / mean rank): "
                         f"{self.balance['imbalance_before']:.2f} at first, "
                         f"{self.balance['imbalance_after']:.2f} at the end "
                         f"({self.balance['sharing']} sharing, "
                         f"{self.balance['rebalances']} rebalancings)")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """A JSON-safe dict (``inf``/``nan`` as strings)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["diagnosis"] = None if self.diagnosis is None else self.diagnosis.to_dict()
        return _json_safe({"format": FORMAT, **data})

    def save(self, path: str | os.PathLike) -> Path:
        """Write the solution as JSON (atomically: a temporary file renamed over ``path``)."""
        return write_atomically(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, data: dict) -> Solution:
        """Rebuild a solution from :meth:`to_dict`'s output."""
        if data.get("format") != FORMAT:
            raise InputError(f"not an mpicg solution (format {data.get('format')!r}, "
                             f"expected {FORMAT!r})")
        kwargs = {k: v for k, v in data.items() if k != "format"}
        for key in ("initial_values", "fitted_values", "fixed_values"):
            kwargs[key] = _floats(kwargs[key])
        kwargs["fun"] = float(kwargs["fun"])
        kwargs["options"] = _restore_non_finite(kwargs.get("options", {}))
        for key in ("lnprobabilities", "scales", "uncertainties"):
            if kwargs.get(key) is not None:
                kwargs[key] = _floats(_restore_non_finite(kwargs[key]))
        for key in ("covariance", "correlation"):
            if kwargs.get(key) is not None:
                kwargs[key] = np.array(_restore_non_finite(kwargs[key]), dtype=float)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise InputError(f"not an mpicg solution: unknown keys {unknown}")
        return cls(**kwargs)


def load_solution(source) -> Solution:
    """A :class:`Solution` from a Solution, a path to a saved one, or its dict."""
    if isinstance(source, Solution):
        return source
    if isinstance(source, dict):
        return Solution.from_dict(source)
    path = Path(source)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise InputError(f"solution file {str(path)!r} does not exist") from e
    except json.JSONDecodeError as e:
        raise InputError(f"solution file {str(path)!r} is not valid JSON: {e}") from e
    return Solution.from_dict(data)
