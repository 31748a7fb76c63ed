"""Named model parameters: what a model declares, so fits can speak in names and units."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import InputError
from .domain import Domain, as_domain

__all__ = ["Parameter", "ParameterizedModel", "WithValues", "check_parameter_names"]


@dataclass(frozen=True)
class Parameter:
    """One parameter of a model.

    Attributes
    ----------
    name : str
        The name fits use (``"incl"``, ``"rp"``, a PHOEBE twig, ...).
    default : float
        The value used when a fit neither varies nor sets it.
    unit : str
        Unit of the value, for reports (``"deg"``, ``"d"``, ``""`` for none).
    description : str
        One line for people.
    domain : Domain, (low, high) or None
        The values the model can be asked for (:class:`~mpicg.fitting.domain.Domain`; a
        pair is a closed interval, ``None`` an open end; None: any finite value). Named
        fits stay inside it, with or without priors.
    """

    name: str
    default: float
    unit: str = ""
    description: str = ""
    domain: Domain | tuple | None = None

    def __post_init__(self):
        object.__setattr__(self, "domain", as_domain(self.domain, f"domain of {self.name!r}"))


class ParameterizedModel:
    """A forward model with named parameters.

    Subclasses set :attr:`parameters` and implement ``__call__(values, times)``, where
    ``values`` holds every parameter in the order of :attr:`parameters` and the return value
    is the flux at ``times``, each time computed independently of the others (mpicg calls
    models on chunks of the times). Instances must pickle when only rank 0 builds the problem.
    """

    parameters: tuple[Parameter, ...] = ()
    #: The parameter that is the orbital period, and the one that is the reference epoch
    #: (a time of mid-eclipse or mid-transit): what a report folds the light curve on. None
    #: when the model has no such parameter (see :meth:`ephemeris`).
    period_parameter: str | None = None
    epoch_parameter: str | None = None
    #: Whether the model's output jitters as its parameters move, by far more than
    #: round-off (a mesh re-triangulated in jumps, as PHOEBE's): finite differences must
    #: then step well above the jitter, and named fits' default steps do (half a scale
    #: instead of a tenth, for central differences).
    noisy: bool = False

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The names, in the order ``__call__`` expects the values."""
        return tuple(p.name for p in self.parameters)

    @property
    def defaults(self) -> dict[str, float]:
        """Name -> default value."""
        return {p.name: float(p.default) for p in self.parameters}

    @property
    def units(self) -> dict[str, str]:
        """Name -> unit."""
        return {p.name: p.unit for p in self.parameters}

    @property
    def domains(self) -> dict[str, Domain]:
        """Name -> domain (:class:`~mpicg.fitting.domain.Domain`)."""
        return {p.name: p.domain for p in self.parameters}

    def __call__(self, values: np.ndarray, times: np.ndarray) -> np.ndarray:
        """The flux at ``times`` for the full parameter vector ``values``."""
        raise NotImplementedError

    def ephemeris(self, values: dict[str, float]) -> tuple[float, float] | None:
        """The period and reference epoch to fold on, at these parameter values.

        Parameters
        ----------
        values : dict
            Name -> value of every parameter.

        Returns
        -------
        tuple of float or None
            ``(period, epoch)`` in the unit of the times, from :attr:`period_parameter` and
            :attr:`epoch_parameter`; None when the model declares no period. A model whose
            period is a setting rather than a parameter overrides this.
        """
        if self.period_parameter is None:
            return None
        period = float(values[self.period_parameter])
        epoch = float(values[self.epoch_parameter]) if self.epoch_parameter else 0.0
        return (period, epoch) if period > 0 else None

    def check_values(self, values) -> np.ndarray:
        """``values`` as a 1-D float array, one per parameter (ValueError naming them)."""
        values = np.asarray(values, dtype=float).ravel()
        if values.size != len(self.parameters):
            raise ValueError(f"`values` must hold the {len(self.parameters)} parameters "
                             f"{list(self.parameter_names)}; got {values.size} values")
        return values


class ModelWrapper(ParameterizedModel):
    """A model built around another (``self.model``), which keeps what describes it.

    Its period and epoch parameters, its noisiness and its ephemeris are the wrapped
    model's; subclasses (:class:`WithValues`, :class:`~mpicg.models.Integrated`,
    :class:`~mpicg.models.Baseline`) change the parameters or the flux.
    """

    model: ParameterizedModel

    @property
    def period_parameter(self) -> str | None:
        """The wrapped model's."""
        return self.model.period_parameter

    @property
    def epoch_parameter(self) -> str | None:
        """The wrapped model's."""
        return self.model.epoch_parameter

    @property
    def noisy(self) -> bool:
        """Whether the wrapped model is noisy (see :class:`ParameterizedModel`)."""
        return bool(getattr(self.model, "noisy", False))

    def ephemeris(self, values: dict[str, float]) -> tuple[float, float] | None:
        """The wrapped model's own (see :meth:`ParameterizedModel.ephemeris`)."""
        return self.model.ephemeris(values)


@dataclass(frozen=True)
class WithValues(ModelWrapper):
    """A model whose parameters default to given values (a job file's ``[parameters]``).

    The values a fit does not vary are the defaults, as in a PHOEBE bundle; this sets them
    without changing the model.

    Parameters
    ----------
    model : ParameterizedModel
        The model.
    values : tuple of (name, value) pairs
        New defaults; the other parameters keep the model's.
    """

    model: ParameterizedModel
    values: tuple[tuple[str, float], ...] = ()

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        """The model's parameters with the given values as defaults."""
        given = dict(self.values)
        return tuple(replace(p, default=float(given.get(p.name, p.default)))
                     for p in self.model.parameters)

    def __call__(self, values: np.ndarray, times: np.ndarray) -> np.ndarray:
        """The model's flux."""
        return self.model(values, times)


def check_parameter_names(names, known, what: str = "fit_parameters") -> list[str]:
    """``names`` as a list, each a known parameter name; InputError naming the culprit."""
    if isinstance(names, str):
        names = [names]
    names = list(names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(f"`{what}` names unknown parameter(s) {unknown}; the model has "
                         f"{list(known)}")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"`{what}` names {duplicates} more than once")
    return names
