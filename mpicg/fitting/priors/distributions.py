"""The prior distributions: Gaussian, uniform, log-uniform and truncated Gaussian.

Each is a frozen, picklable dataclass with ``logpdf``, ``support``, ``contains`` and
``to_dict``. Only the standard library is used: the truncated Gaussian's normalisation comes
from :func:`math.erf`/:func:`math.erfc` and, in the far tails, an asymptotic series, so it
stays finite where the tail probability underflows.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from ...errors import InputError
from ...optimize import show_value

__all__ = ["Distribution", "Gaussian", "LogUniform", "TruncatedGaussian", "Uniform"]

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
# Above this many standard deviations the upper tail comes from the asymptotic series; below
# it from erfc, which is accurate to a few ulp there and only underflows past ~37.5.
_TAIL_SERIES_FROM = 30.0
# An interval narrower than this (in standard deviations, scaled by its distance from the
# mean) is normalised with a midpoint rule, because a difference of two tail probabilities
# that are nearly equal loses most of its digits.
_NARROW = 1e-3


def _real(value, name: str, owner: str) -> float:
    """``value`` as a finite float; InputError naming ``owner``'s argument ``name`` if not."""
    # bool is a numbers.Real, but True as a standard deviation is a bug, not a 1.
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise InputError(f"`{name}` of {owner} must be a real number; got {show_value(value)} "
                         f"of type {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"`{name}` of {owner} must be finite; got {show_value(value)}")
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
    of :meth:`to_dict`) and implement :meth:`logpdf` and :attr:`support`.
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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict with a ``"kind"`` key; :func:`distribution_from_dict` inverts it.

        The kind and the constructor's arguments (the dataclass fields set at
        construction), e.g. ``{"kind": "uniform", "low": ..., "high": ...}``.
        """
        return {"kind": self.kind, **{f.name: getattr(self, f.name)
                                      for f in fields(self) if f.init}}


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
            raise InputError(f"`sigma` of Gaussian must be > 0; got {show_value(self.sigma)}")
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

