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
import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .errors import InputError

__all__ = [
    "PRIORS_COMBINE",
    "Combined",
    "Distribution",
    "Gaussian",
    "LogUniform",
    "Priors",
    "TruncatedGaussian",
    "Uniform",
    "combine",
    "distribution_from_dict",
]

#: The accepted values of ``priors_combine``, with PHOEBE's meanings (see :class:`Combined`).
PRIORS_COMBINE = ("first", "and", "or")

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
# Above this many standard deviations the upper tail comes from the asymptotic series; below
# it from erfc, which is accurate to a few ulp there and only underflows past ~37.5.
_TAIL_SERIES_FROM = 30.0
# An interval narrower than this (in standard deviations, scaled by its distance from the
# mean) is normalised with a midpoint rule, because a difference of two tail probabilities
# that are nearly equal loses most of its digits.
_NARROW = 1e-3


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _real(value, name: str, owner: str) -> float:
    """``value`` as a finite float; InputError naming ``owner``'s argument ``name`` if not."""
    # bool is a numbers.Real, but True as a standard deviation is a bug, not a 1.
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise InputError(f"`{name}` of {owner} must be a real number; got {_show(value)} "
                         f"of type {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"`{name}` of {owner} must be finite; got {_show(value)}")
    return number


def _check_interval(low: float, high: float, owner: str) -> None:
    if not low < high:
        raise InputError(f"`low` of {owner} must be < `high`; got low={low!r}, high={high!r}")


def _log_upper_tail(t: float) -> float:
    """``log Q(t)`` for ``t >= 0``, where ``Q(t) = P(Z > t)`` for a standard normal ``Z``."""
    if t < _TAIL_SERIES_FROM:
        return math.log(0.5 * math.erfc(t / _SQRT2))
    # Q(t) = phi(t)/t * (1 - 1/t^2 + 3/t^4 - 15/t^6 + ...). The series is asymptotic, but
    # at t >= 30 the first term left out (the twelfth) is ~1e-24, far under double precision.
    inv2 = 1.0 / (t * t)  # 0 when t*t overflows; then the leading term alone is exact
    term = 1.0
    total = 1.0
    for k in range(1, 12):
        term *= -(2 * k - 1) * inv2
        total += term
    return -0.5 * t * t - _LOG_SQRT_2PI - math.log(t) + math.log(total)


def _log_standard_mass(a: float, b: float, log_width: float, mid: float) -> float:
    """``log(Phi(b) - Phi(a))`` for a standard normal, ``a < b``.

    ``log_width`` (= log(b - a)) and ``mid`` (= (a + b)/2) are passed separately because the
    caller can compute them without the rounding (or underflow) that ``b - a`` of two scaled
    bounds would carry.
    """
    width = math.exp(min(log_width, 700.0))  # only compared with _NARROW; must not overflow
    if width * max(1.0, abs(mid)) < _NARROW:
        # Midpoint expansion: integral of phi over [mid - w/2, mid + w/2]
        # = phi(mid) * w * (1 + (mid^2 - 1) w^2 / 24 + O((mid*w)^4)), the O term < 1e-15 here.
        return (-0.5 * mid * mid - _LOG_SQRT_2PI + log_width
                + math.log1p((mid * mid - 1.0) * width * width / 24.0))
    if a < 0.0 < b:
        # Both halves are positive, so the sum loses nothing, unlike 1 - Q(-a) - Q(b).
        return math.log(0.5 * (math.erf(b / _SQRT2) + math.erf(-a / _SQRT2)))
    if b <= 0.0:  # the lower tail is the mirror image of the upper one
        a, b = -b, -a
    # Both in the upper tail: Q(a) - Q(b) in log space, so it survives Q(a) underflowing.
    log_qa = _log_upper_tail(a)
    log_qb = _log_upper_tail(b)
    if log_qa == -math.inf:
        return -math.inf
    # log(Q(a) - Q(b)) = log Q(a) + log(1 - Q(b)/Q(a)); expm1 keeps the digits of a ratio
    # near 1 (a narrow interval far out).
    return log_qa + math.log(-math.expm1(log_qb - log_qa))


class Distribution(ABC):
    """A univariate distribution used as a prior.

    Subclasses are frozen dataclasses; they set the class attribute ``kind`` (the ``"kind"``
    of :meth:`to_dict`) and implement :meth:`logpdf`, :attr:`support` and :meth:`to_dict`.
    """

    kind: ClassVar[str]

    @abstractmethod
    def logpdf(self, x: float) -> float:
        """The log density at ``x``.

        Parameters
        ----------
        x : float
            Where to evaluate it.

        Returns
        -------
        float
            The log density; ``-inf`` outside the support and for nan, never nan for a
            finite ``x``.
        """

    @property
    @abstractmethod
    def support(self) -> tuple[float, float]:
        """``(low, high)``: the smallest closed interval that holds the support."""

    def contains(self, x: float) -> bool:
        """Whether ``x`` lies in the support (never for nan or an infinite ``x``).

        Parameters
        ----------
        x : float
            The value to test.

        Returns
        -------
        bool
            True if ``x`` is finite and within :attr:`support`.
        """
        x = float(x)
        low, high = self.support
        # An infinite x is excluded even from an unbounded support: no prior here has mass
        # there, and a fit parameter at inf is an error, not a value.
        return math.isfinite(x) and low <= x <= high

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict with a ``"kind"`` key; :func:`distribution_from_dict` inverts it."""


@dataclass(frozen=True)
class Gaussian(Distribution):
    """The normal distribution N(mu, sigma^2).

    Parameters
    ----------
    mu : float
        The mean (finite).
    sigma : float
        The standard deviation (finite, > 0).
    """

    kind: ClassVar[str] = "gaussian"

    mu: float
    sigma: float

    def __post_init__(self):
        object.__setattr__(self, "mu", _real(self.mu, "mu", "Gaussian"))
        sigma = _real(self.sigma, "sigma", "Gaussian")
        if not sigma > 0.0:
            raise InputError(f"`sigma` of Gaussian must be > 0; got {_show(self.sigma)}")
        object.__setattr__(self, "sigma", sigma)

    def logpdf(self, x: float) -> float:
        """The log density at ``x`` (``-inf`` for nan and infinite ``x``)."""
        x = float(x)
        if not self.contains(x):
            return -math.inf
        z = (x - self.mu) / self.sigma  # may overflow to inf; -0.5*inf*inf is -inf, not nan
        return -0.5 * z * z - math.log(self.sigma) - _LOG_SQRT_2PI

    @property
    def support(self) -> tuple[float, float]:
        """``(-inf, inf)``."""
        return (-math.inf, math.inf)

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": "gaussian", "mu": ..., "sigma": ...}``."""
        return {"kind": self.kind, "mu": self.mu, "sigma": self.sigma}


@dataclass(frozen=True)
class Uniform(Distribution):
    """The uniform distribution on the closed interval [low, high].

    Parameters
    ----------
    low, high : float
        The bounds (finite, ``low < high``).
    """

    kind: ClassVar[str] = "uniform"

    low: float
    high: float

    def __post_init__(self):
        object.__setattr__(self, "low", _real(self.low, "low", "Uniform"))
        object.__setattr__(self, "high", _real(self.high, "high", "Uniform"))
        _check_interval(self.low, self.high, "Uniform")
        if not math.isfinite(self.high - self.low):
            raise InputError(f"`high` - `low` of Uniform must be finite; got "
                             f"low={self.low!r}, high={self.high!r}")

    def logpdf(self, x: float) -> float:
        """The log density at ``x``: ``-log(high - low)`` inside, ``-inf`` outside."""
        if not self.contains(x):
            return -math.inf
        return -math.log(self.high - self.low)

    @property
    def support(self) -> tuple[float, float]:
        """``(low, high)``."""
        return (self.low, self.high)

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": "uniform", "low": ..., "high": ...}``."""
        return {"kind": self.kind, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class LogUniform(Distribution):
    """The log-uniform (reciprocal) distribution: density ∝ 1/x on [low, high].

    Parameters
    ----------
    low, high : float
        The bounds (finite, ``0 < low < high``).
    """

    kind: ClassVar[str] = "log_uniform"

    low: float
    high: float
    _log_norm: float = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "low", _real(self.low, "low", "LogUniform"))
        object.__setattr__(self, "high", _real(self.high, "high", "LogUniform"))
        if not self.low > 0.0:
            raise InputError(f"`low` of LogUniform must be > 0; got {self.low!r}")
        _check_interval(self.low, self.high, "LogUniform")
        # log(log(high/low)); the log of each bound, not of the ratio, so a ratio that
        # overflows (low tiny, high huge) still works.
        object.__setattr__(self, "_log_norm",
                           math.log(math.log(self.high) - math.log(self.low)))

    def logpdf(self, x: float) -> float:
        """The log density at ``x``: ``-log(x) - log(log(high/low))`` inside."""
        x = float(x)
        if not self.contains(x):
            return -math.inf
        return -math.log(x) - self._log_norm

    @property
    def support(self) -> tuple[float, float]:
        """``(low, high)``."""
        return (self.low, self.high)

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": "log_uniform", "low": ..., "high": ...}``."""
        return {"kind": self.kind, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class TruncatedGaussian(Distribution):
    """N(mu, sigma^2) restricted to [low, high] and normalised there.

    The normalisation ``Phi(b) - Phi(a)`` (``a``, ``b`` the bounds in standard deviations)
    is computed in log space: from :func:`math.erf` when the interval straddles the mean,
    from the log of the upper (or, mirrored, lower) tail when it does not, which stays finite
    however far out the interval is (e.g. ``mu=0, sigma=1, low=30, high=40``), and from a
    midpoint expansion for very narrow intervals.

    Parameters
    ----------
    mu : float
        The mean of the untruncated Gaussian (finite).
    sigma : float
        Its standard deviation (finite, > 0).
    low, high : float
        The bounds (finite, ``low < high``). For a half-Gaussian use a bound many ``sigma``
        away from ``mu``: beyond ~40 sigma it makes no difference in double precision.
    """

    kind: ClassVar[str] = "truncated_gaussian"

    mu: float
    sigma: float
    low: float
    high: float
    _log_norm: float = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        owner = "TruncatedGaussian"
        for name in ("mu", "sigma", "low", "high"):
            object.__setattr__(self, name, _real(getattr(self, name), name, owner))
        if not self.sigma > 0.0:
            raise InputError(f"`sigma` of {owner} must be > 0; got {self.sigma!r}")
        _check_interval(self.low, self.high, owner)
        a = (self.low - self.mu) / self.sigma
        b = (self.high - self.mu) / self.sigma
        # The width in log space: high - low is exact and > 0 for floats low < high unless
        # it overflows, and dividing by sigma could underflow or overflow.
        diff = self.high - self.low
        if math.isinf(diff):
            log_width = math.log(0.5 * self.high - 0.5 * self.low) + math.log(2.0)
        else:
            log_width = math.log(diff)
        log_width -= math.log(self.sigma)
        mid = (0.5 * self.low + 0.5 * self.high - self.mu) / self.sigma  # halves: no overflow
        log_norm = _log_standard_mass(a, b, log_width, mid)
        if not math.isfinite(log_norm):
            raise InputError(f"`low`/`high` of {owner} = [{self.low!r}, {self.high!r}] lie "
                             f"too far ({a!r} to {b!r} sigma) in the tail of "
                             f"N(mu={self.mu!r}, sigma={self.sigma!r}) for its mass to be a "
                             f"double")
        object.__setattr__(self, "_log_norm", log_norm)

    def logpdf(self, x: float) -> float:
        """The log density at ``x``; ``-inf`` outside [low, high]."""
        x = float(x)
        if not self.contains(x):
            return -math.inf
        z = (x - self.mu) / self.sigma
        return -0.5 * z * z - math.log(self.sigma) - _LOG_SQRT_2PI - self._log_norm

    @property
    def support(self) -> tuple[float, float]:
        """``(low, high)``."""
        return (self.low, self.high)

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": "truncated_gaussian", "mu": ..., "sigma": ..., "low": ..., "high": ...}``."""
        return {"kind": self.kind, "mu": self.mu, "sigma": self.sigma, "low": self.low,
                "high": self.high}


def _check_how(how) -> str:
    if not isinstance(how, str) or how not in PRIORS_COMBINE:
        raise InputError(f"`priors_combine` must be one of {list(PRIORS_COMBINE)}; "
                         f"got {_show(how)}")
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
        _check_how(self.how)
        if isinstance(self.parts, Distribution | str | Mapping) or not isinstance(
                self.parts, Iterable):
            raise InputError(f"`parts` of Combined must be a sequence of distributions; "
                             f"got {_show(self.parts)}")
        parts = tuple(self.parts)
        if not parts:
            raise InputError(f"`parts` of Combined must hold at least one distribution; "
                             f"got {_show(self.parts)}")
        for i, part in enumerate(parts):
            if not isinstance(part, Distribution):
                raise InputError(f"`parts[{i}]` of Combined must be a Distribution; got "
                                 f"{_show(part)} of type {type(part).__name__}")
        object.__setattr__(self, "parts", parts)
        if self.how == "and":
            low, high = self.support
            # A single common point has no mass either, so a fit could never move off it.
            if not low < high:
                raise InputError(
                    f"`priors_combine`='and' of distributions whose supports do not overlap: "
                    f"{[p.support for p in parts]}; their product is zero everywhere "
                    f"(parts: {_show(parts)})")

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
    _check_how(how)
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
        raise InputError(f"a distribution dict must be a mapping; got {_show(d)}")
    kind = d.get("kind")
    if kind not in _ARGUMENTS:
        raise InputError(f"`kind` of a distribution dict must be one of {list(_ARGUMENTS)}; "
                         f"got {_show(kind)} in {_show(d)}")
    expected = set(_ARGUMENTS[kind])
    given = set(d) - {"kind"}
    if given != expected:
        raise InputError(f"a {kind!r} distribution dict needs the keys {sorted(expected)}; "
                         f"missing {sorted(expected - given)}, unexpected "
                         f"{sorted(map(str, given - expected))} in {_show(d)}")
    if kind == "combined":
        parts = d["parts"]
        if isinstance(parts, str | Mapping) or not isinstance(parts, Iterable):
            raise InputError(f"`parts` of a 'combined' distribution dict must be a list of "
                             f"dicts; got {_show(parts)}")
        return Combined(tuple(distribution_from_dict(p) for p in parts), d["how"])
    return _KINDS[kind](**{name: d[name] for name in _ARGUMENTS[kind]})


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
        self._how = _check_how(priors_combine)
        self._parts: dict[str, list[Distribution]] = {}
        for name, given in self._entries(priors):
            if not isinstance(name, str) or not name:
                raise InputError(f"`priors` parameter names must be non-empty strings; got "
                                 f"{_show(name)}")
            dists = [given] if isinstance(given, Distribution) else given
            if isinstance(dists, str | Mapping) or not isinstance(dists, Iterable):
                raise InputError(f"`priors` entry for parameter {name!r} must be a "
                                 f"Distribution or a list of them; got {_show(given)}")
            dists = list(dists)
            if not dists:
                raise InputError(f"`priors` entry for parameter {name!r} is an empty list")
            for dist in dists:
                if not isinstance(dist, Distribution):
                    raise InputError(f"`priors` entry for parameter {name!r} must be a "
                                     f"Distribution; got {_show(dist)} of type "
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
                             f"pairs; got {_show(priors)}")
        entries = []
        for entry in priors:
            if isinstance(entry, str) or not isinstance(entry, tuple | list) or len(entry) != 2:
                raise InputError(f"`priors` as a list must hold (name, distribution) pairs; "
                                 f"got the entry {_show(entry)}")
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
            raise InputError(f"no prior on parameter {_show(name)}; there are priors on "
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
                             f"{_show(value)}") from e

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
            if not dist.contains(value) or dist.logpdf(value) == -math.inf:
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
            If a parameter with a prior has no value.
        """
        total = 0.0
        for name, dist in self._combined.items():
            value = dist.logpdf(self._value(values, name, "`values`"))
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
                             f"['priors', 'priors_combine']; got {_show(d)}")
        given = d["priors"]
        if not isinstance(given, Mapping):
            raise InputError(f"`priors` of a Priors dict must map names to lists of "
                             f"distribution dicts; got {_show(given)}")
        priors = {}
        for name, dists in given.items():
            if isinstance(dists, str | Mapping) or not isinstance(dists, Iterable):
                raise InputError(f"`priors` entry for parameter {name!r} of a Priors dict "
                                 f"must be a list of distribution dicts; got {_show(dists)}")
            priors[name] = [distribution_from_dict(x) for x in dists]
        return cls(priors, d["priors_combine"])
