"""Prior distributions of fit parameters, with PHOEBE's ``optimizer.cg`` semantics.

A fit minimises ``-ln p = -(ln prior + ln L)``. The prior is a product over parameters, each
parameter's prior being one distribution or several combined according to ``priors_combine``
(``'first'``, ``'and'`` or ``'or'``, as in PHOEBE; ``'and'`` is PHOEBE's default).

Every distribution is a frozen, picklable dataclass with

* ``logpdf(x)``: the log density at ``x``; ``-inf`` outside the support (and for nan), never
  nan for a finite ``x``;
* ``support``: ``(low, high)``, the smallest closed interval holding the support;
* ``contains(x)``: whether ``x`` is in the support;
* ``to_dict()``: a JSON-safe dict with a ``"kind"`` key, inverted by
  :func:`distribution_from_dict`.

Only the standard library is used (no scipy at run time): the truncated Gaussian's
normalisation is computed with :func:`math.erf`/:func:`math.erfc` and, in the far tails, an
asymptotic series for the log of the Gaussian tail, so it stays finite and accurate where the
tail probability underflows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from ...errors import InputError
from ...optimize import show_value
from .combination import (
    PRIORS_COMBINE,
    Combined,
    check_priors_combine,
    combine,
    distribution_from_dict,
)
from .distributions import (
    Distribution,
    Gaussian,
    LogUniform,
    TruncatedGaussian,
    Uniform,
)

__all__ = [
    "PRIORS_COMBINE",
    "Combined",
    "Distribution",
    "Gaussian",
    "LogUniform",
    "Priors",
    "TruncatedGaussian",
    "Uniform",
    "check_priors_combine",
    "combine",
    "distribution_from_dict",
]


def _logpdf(name: str, dist: Distribution, value: float) -> float:
    """``dist.logpdf(value)``; a distribution that raises or gives NaN is one clear error.

    Built-in distributions never do; a user's own may, and it is evaluated on every rank
    for every point, so its failure must read as one line, not a traceback per rank.
    """
    try:
        result = float(dist.logpdf(value))
    except Exception as e:
        raise InputError(f"the prior on {name!r}, {show_value(dist, 120)}, raised "
                         f"{type(e).__name__}: {e} at {name} = {value!r}") from None
    if math.isnan(result):
        raise InputError(f"the prior on {name!r}, {show_value(dist, 120)}, gave NaN at "
                         f"{name} = {value!r} (a log density must be a number or -inf)")
    return result


def _contains(name: str, dist: Distribution, value: float) -> bool:
    try:
        return bool(dist.contains(value))
    except Exception as e:
        raise InputError(f"the prior on {name!r}, {show_value(dist, 120)}, raised "
                         f"{type(e).__name__}: {e} at {name} = {value!r}") from None


class Priors:
    """The priors of a fit: distributions on named parameters, combined per parameter.

    Parameters
    ----------
    priors : mapping or iterable of pairs, optional
        Either ``{name: distribution or list of distributions}`` or ``[(name, distribution),
        ...]`` where a name may appear several times (as PHOEBE lists them). None or empty
        for no priors (then :meth:`log_prior` is 0).
    priors_combine : {'and', 'first', 'or'}
        How several distributions on one parameter combine (see :class:`Combined`);
        ``'and'``, PHOEBE's default, multiplies them.

    Raises
    ------
    InputError
        For a bad ``priors_combine``, a name that is not a non-empty string, an entry that
        is not a distribution, a parameter given an empty list, or an ``'and'`` whose
        supports do not overlap.

    Examples
    --------
    >>> priors = Priors([("incl", Uniform(80.0, 90.0)), ("incl", Gaussian(87.0, 1.0)),
    ...                  ("rp", LogUniform(0.01, 0.5))])
    >>> priors.names
    ('incl', 'rp')
    >>> priors.distribution("incl")
    Combined(parts=(Uniform(low=80.0, high=90.0), Gaussian(mu=87.0, sigma=1.0)), how='and')
    >>> round(priors.log_prior({"incl": 87.0, "rp": 0.1, "a": 10.0}), 6)
    -2.282993
    """

    def __init__(self, priors=None, priors_combine: str = "and"):
        self._how = check_priors_combine(priors_combine)
        self._parts: dict[str, list[Distribution]] = {}
        for name, given in self._entries(priors):
            if not isinstance(name, str) or not name:
                raise InputError(f"`priors` parameter names must be non-empty strings; got "
                                 f"{show_value(name)}")
            dists = [given] if isinstance(given, Distribution) else given
            if isinstance(dists, str | Mapping) or not isinstance(dists, Iterable):
                raise InputError(f"`priors` entry for parameter {name!r} must be a "
                                 f"Distribution or a list of them; got {show_value(given)}")
            dists = list(dists)
            if not dists:
                raise InputError(f"`priors` entry for parameter {name!r} is an empty list")
            for dist in dists:
                if not isinstance(dist, Distribution):
                    raise InputError(f"`priors` entry for parameter {name!r} must be a "
                                     f"Distribution; got {show_value(dist)} of type "
                                     f"{type(dist).__name__}")
            self._parts.setdefault(name, []).extend(dists)
        self._combined: dict[str, Distribution] = {}
        for name, dists in self._parts.items():
            try:
                self._combined[name] = combine(dists, self._how)
            except InputError as e:  # say which parameter; combine only knows distributions
                raise InputError(f"priors on parameter {name!r}: {e}") from e

    @staticmethod
    def _entries(priors):
        if priors is None:
            return []
        if isinstance(priors, Mapping):
            return list(priors.items())
        if isinstance(priors, str) or not isinstance(priors, Iterable):
            raise InputError(f"`priors` must be a dict or a list of (name, distribution) "
                             f"pairs; got {show_value(priors)}")
        entries = []
        for entry in priors:
            if isinstance(entry, str) or not isinstance(entry, tuple | list) or len(entry) != 2:
                raise InputError(f"`priors` as a list must hold (name, distribution) pairs; "
                                 f"got the entry {show_value(entry)}")
            entries.append(tuple(entry))
        return entries

    @property
    def priors_combine(self) -> str:
        """How several distributions on one parameter combine."""
        return self._how

    @property
    def names(self) -> tuple[str, ...]:
        """The parameters with a prior, in the order first given."""
        return tuple(self._parts)

    def __len__(self) -> int:
        return len(self._parts)

    def __contains__(self, name) -> bool:
        return name in self._parts

    def __eq__(self, other) -> bool:
        if not isinstance(other, Priors):
            return NotImplemented
        return self._how == other._how and self._parts == other._parts

    __hash__ = None  # compared by value like the dicts it holds, so, like them, unhashable

    def __repr__(self) -> str:
        return f"Priors({self._parts!r}, priors_combine={self._how!r})"

    def parts(self, name: str) -> tuple[Distribution, ...]:
        """The distributions given for parameter ``name``, in order, before combining.

        Parameters
        ----------
        name : str
            A parameter with a prior.

        Returns
        -------
        tuple of Distribution
            The distributions as given.
        """
        self._require(name)
        return tuple(self._parts[name])

    def distribution(self, name: str) -> Distribution:
        """The prior of parameter ``name``: its distributions combined by ``priors_combine``.

        Parameters
        ----------
        name : str
            A parameter with a prior.

        Returns
        -------
        Distribution
            The single distribution given, or a :class:`Combined` of several.

        Raises
        ------
        InputError
            If ``name`` has no prior.
        """
        self._require(name)
        return self._combined[name]

    def _require(self, name) -> None:
        if name not in self._parts:
            raise InputError(f"no prior on parameter {show_value(name)}; there are priors on "
                             f"{list(self._parts)}")

    def check_names(self, known_names) -> None:
        """Raise InputError if a prior is on a parameter that is not in ``known_names``.

        Parameters
        ----------
        known_names : iterable of str
            The model's parameter names.

        Raises
        ------
        InputError
            ``"prior on parameter 'xyz' which the model does not have; it has [...]"``
            (all unknown names listed when there are several).
        """
        known = [known_names] if isinstance(known_names, str) else list(known_names)
        unknown = [name for name in self._parts if name not in known]
        if len(unknown) == 1:
            raise InputError(f"prior on parameter {unknown[0]!r} which the model does not "
                             f"have; it has {known}")
        if unknown:
            raise InputError(f"priors on parameters {unknown} which the model does not "
                             f"have; it has {known}")

    def _value(self, values: Mapping[str, float], name: str, what: str) -> float:
        try:
            value = values[name]
        except KeyError:
            raise InputError(f"{what} has no value for parameter {name!r}, which has a "
                             f"prior; it has values for {list(values)}") from None
        try:
            return float(value)
        except (TypeError, ValueError) as e:
            raise InputError(f"{what} for parameter {name!r} must be a real number; got "
                             f"{show_value(value)}") from e

    def check_start(self, values: Mapping[str, float]) -> None:
        """Raise InputError if a start value has zero prior density.

        Parameters
        ----------
        values : mapping of str to float
            Parameter name -> start value; must hold every parameter with a prior (others
            are ignored).

        Raises
        ------
        InputError
            Naming the parameter, its start value and its prior's support, for the first
            start value outside the support (or with log density ``-inf``), or naming a
            parameter with a prior but no start value.
        """
        for name, dist in self._combined.items():
            value = self._value(values, name, "the start")
            if not _contains(name, dist, value) or _logpdf(name, dist, value) == -math.inf:
                low, high = dist.support
                # "zero density" rather than "outside the support": it also covers nan, inf
                # and the gaps of an 'or', which lie inside the hull that support gives.
                raise InputError(f"start value {value!r} of parameter {name!r} has zero "
                                 f"density under its prior {dist!r} (support [{low!r}, "
                                 f"{high!r}])")

    def log_prior(self, values: Mapping[str, float]) -> float:
        """The log prior: the sum over parameters with priors of their log densities.

        Parameters
        ----------
        values : mapping of str to float
            Parameter name -> value; must hold every parameter with a prior (others are
            ignored, so a fit can pass all of its parameters).

        Returns
        -------
        float
            The sum; ``-inf`` as soon as a value is outside its prior's support; 0 for no
            priors.

        Raises
        ------
        InputError
            If a parameter with a prior has no value, or a distribution raised or gave NaN
            (naming the parameter, the distribution and the value).
        """
        total = 0.0
        for name, dist in self._combined.items():
            value = _logpdf(name, dist, self._value(values, name, "`values`"))
            if value == -math.inf:
                return -math.inf
            total += value
        return total

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: ``{"priors_combine": ..., "priors": {name: [dist dict, ...]}}``.

        Returns
        -------
        dict
            The description that :meth:`from_dict` turns back into an equal ``Priors``.
        """
        return {"priors_combine": self._how,
                "priors": {name: [d.to_dict() for d in dists]
                           for name, dists in self._parts.items()}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Priors:
        """The ``Priors`` that :meth:`to_dict` described.

        Parameters
        ----------
        d : mapping
            ``{"priors_combine": ..., "priors": {name: [dist dict, ...]}}``.

        Returns
        -------
        Priors
            Equal to the one ``d`` came from.

        Raises
        ------
        InputError
            If ``d`` does not have that form or holds an invalid distribution.
        """
        if not isinstance(d, Mapping) or set(d) != {"priors_combine", "priors"}:
            raise InputError(f"a Priors dict must be a mapping with exactly the keys "
                             f"['priors', 'priors_combine']; got {show_value(d)}")
        given = d["priors"]
        if not isinstance(given, Mapping):
            raise InputError(f"`priors` of a Priors dict must map names to lists of "
                             f"distribution dicts; got {show_value(given)}")
        priors = {}
        for name, dists in given.items():
            if isinstance(dists, str | Mapping) or not isinstance(dists, Iterable):
                raise InputError(f"`priors` entry for parameter {name!r} of a Priors dict "
                                 f"must be a list of distribution dicts; got {show_value(dists)}")
            priors[name] = [distribution_from_dict(x) for x in dists]
        return cls(priors, d["priors_combine"])
