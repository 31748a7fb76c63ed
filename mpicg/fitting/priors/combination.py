"""Several distributions on one parameter: PHOEBE's ``priors_combine`` ('first', 'and', 'or')."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ...errors import InputError
from ...optimize import show_value
from .distributions import (
    Distribution,
    Gaussian,
    LogUniform,
    TruncatedGaussian,
    Uniform,
)

__all__ = ["PRIORS_COMBINE", "Combined", "check_priors_combine", "combine",
           "distribution_from_dict"]

#: The accepted values of ``priors_combine``, with PHOEBE's meanings (see :class:`Combined`).
PRIORS_COMBINE = ("first", "and", "or")


def check_priors_combine(how) -> str:
    """``how`` if it is one of :data:`PRIORS_COMBINE`, else InputError naming it."""
    if not isinstance(how, str) or how not in PRIORS_COMBINE:
        raise InputError(f"`priors_combine` must be one of {list(PRIORS_COMBINE)}; "
                         f"got {show_value(how)}")
    return how


@dataclass(frozen=True)
class Combined(Distribution):
    """Several distributions on one parameter, combined as PHOEBE's ``priors_combine``.

    * ``'first'``: the first part alone; the others are kept (for :meth:`to_dict` and
      reports) but ignored.
    * ``'and'``: the product of the densities, i.e. the sum of the log densities; the support
      is the intersection. The product is **not normalised** (its integral is not 1 in
      general, e.g. for two Gaussians). A fit does not need it to be: the normalisation is a
      constant in ``-ln p`` and moves neither the optimum nor the gradient.
    * ``'or'``: the union, as the normalised mixture with equal weights: the density is the
      mean of the parts' densities, computed as a log-sum-exp so it stays finite where every
      part's density underflows. It is normalised when its parts are; the support is the
      union of theirs (:attr:`support` gives its hull, :meth:`contains` the union itself, so
      gaps between disjoint parts are outside).

    Parameters
    ----------
    parts : sequence of Distribution
        The distributions, at least one; stored as a tuple.
    how : {'first', 'and', 'or'}
        How to combine them.

    Raises
    ------
    InputError
        For a bad ``how`` (named as ``priors_combine``), no parts, a part that is not a
        :class:`Distribution`, or ``'and'`` of parts whose supports do not overlap (the
        product would be zero everywhere).
    """

    kind: ClassVar[str] = "combined"

    parts: tuple[Distribution, ...]
    how: str = "and"

    def __post_init__(self):
        check_priors_combine(self.how)
        if isinstance(self.parts, Distribution | str | Mapping) or not isinstance(
                self.parts, Iterable):
            raise InputError(f"`parts` of Combined must be a sequence of distributions; "
                             f"got {show_value(self.parts)}")
        parts = tuple(self.parts)
        if not parts:
            raise InputError(f"`parts` of Combined must hold at least one distribution; "
                             f"got {show_value(self.parts)}")
        for i, part in enumerate(parts):
            if not isinstance(part, Distribution):
                raise InputError(f"`parts[{i}]` of Combined must be a Distribution; got "
                                 f"{show_value(part)} of type {type(part).__name__}")
        object.__setattr__(self, "parts", parts)
        if self.how == "and":
            low, high = self.support
            # A single common point has no mass either, so a fit could never move off it.
            if not low < high:
                raise InputError(
                    f"`priors_combine`='and' of distributions whose supports do not overlap: "
                    f"{[p.support for p in parts]}; their product is zero everywhere "
                    f"(parts: {show_value(parts)})")

    def logpdf(self, x: float) -> float:
        """The log density at ``x`` of the combination (see the class docstring)."""
        x = float(x)
        if self.how == "first":
            return self.parts[0].logpdf(x)
        if self.how == "and":
            total = 0.0
            for part in self.parts:
                value = part.logpdf(x)
                if value == -math.inf:  # no +inf exists, so the sum cannot become nan
                    return -math.inf
                total += value
            return total
        values = [part.logpdf(x) for part in self.parts]
        top = max(values)
        if top == -math.inf:
            return -math.inf
        # log(mean(exp(v))) = top + log(sum(exp(v - top))) - log(n): no underflow to -inf
        # when every density is tiny (e.g. between two narrow, distant Gaussians).
        return (top + math.log(math.fsum(math.exp(v - top) for v in values))
                - math.log(len(values)))

    @property
    def support(self) -> tuple[float, float]:
        """The hull of the support: the first part's, the intersection, or the union's hull."""
        supports = [part.support for part in self.parts]
        if self.how == "first":
            return supports[0]
        if self.how == "and":
            return (max(s[0] for s in supports), min(s[1] for s in supports))
        return (min(s[0] for s in supports), max(s[1] for s in supports))

    def contains(self, x: float) -> bool:
        """Whether ``x`` is in the support: the first part's, all parts', or any part's."""
        if self.how == "first":
            return self.parts[0].contains(x)
        if self.how == "and":
            return all(part.contains(x) for part in self.parts)
        return any(part.contains(x) for part in self.parts)

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": "combined", "how": ..., "parts": [part.to_dict(), ...]}``."""
        return {"kind": self.kind, "how": self.how,
                "parts": [part.to_dict() for part in self.parts]}


def combine(distributions, how: str = "and") -> Distribution:
    """Combine the priors given for one parameter as PHOEBE's ``priors_combine``.

    Parameters
    ----------
    distributions : Distribution or sequence of Distribution
        One distribution, or at least one in a sequence.
    how : {'first', 'and', 'or'}
        See :class:`Combined`.

    Returns
    -------
    Distribution
        The distribution itself when there is only one (every ``how`` leaves one unchanged),
        else a :class:`Combined`.

    Raises
    ------
    InputError
        For a bad ``how`` (named as ``priors_combine``) or bad distributions.
    """
    check_priors_combine(how)
    if isinstance(distributions, Distribution):
        return distributions
    combined = Combined(distributions, how)
    return combined.parts[0] if len(combined.parts) == 1 else combined


_KINDS: dict[str, type[Distribution]] = {
    cls.kind: cls for cls in (Gaussian, Uniform, LogUniform, TruncatedGaussian)}
_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "gaussian": ("mu", "sigma"),
    "uniform": ("low", "high"),
    "log_uniform": ("low", "high"),
    "truncated_gaussian": ("mu", "sigma", "low", "high"),
    "combined": ("how", "parts"),
}


def distribution_from_dict(d: Mapping[str, Any]) -> Distribution:
    """The distribution that :meth:`Distribution.to_dict` described.

    Parameters
    ----------
    d : mapping
        A dict with a ``"kind"`` key (``"gaussian"``, ``"uniform"``, ``"log_uniform"``,
        ``"truncated_gaussian"`` or ``"combined"``) and exactly that kind's arguments.

    Returns
    -------
    Distribution
        The distribution, equal to the one ``d`` came from.

    Raises
    ------
    InputError
        If ``d`` is not a mapping, its kind is unknown, it lacks or has extra keys, or the
        arguments are invalid.
    """
    if not isinstance(d, Mapping):
        raise InputError(f"a distribution dict must be a mapping; got {show_value(d)}")
    kind = d.get("kind")
    if kind not in _ARGUMENTS:
        raise InputError(f"`kind` of a distribution dict must be one of {list(_ARGUMENTS)}; "
                         f"got {show_value(kind)} in {show_value(d)}")
    expected = set(_ARGUMENTS[kind])
    given = set(d) - {"kind"}
    if given != expected:
        raise InputError(f"a {kind!r} distribution dict needs the keys {sorted(expected)}; "
                         f"missing {sorted(expected - given)}, unexpected "
                         f"{sorted(map(str, given - expected))} in {show_value(d)}")
    if kind == "combined":
        parts = d["parts"]
        if isinstance(parts, str | Mapping) or not isinstance(parts, Iterable):
            raise InputError(f"`parts` of a 'combined' distribution dict must be a list of "
                             f"dicts; got {show_value(parts)}")
        return Combined(tuple(distribution_from_dict(p) for p in parts), d["how"])
    return _KINDS[kind](**{name: d[name] for name in _ARGUMENTS[kind]})
