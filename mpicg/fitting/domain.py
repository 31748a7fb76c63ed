"""Physical domains of model parameters: the values a model can be asked for.

A :class:`Domain` is an interval, each end open or closed (``closed``, as in
``pandas.Interval``): radii are in ``(0, inf)``, an inclination in ``[0, 90]`` deg, an
eccentricity in ``[0, 1)``. Named fits never ask a model for a value outside a fitted
parameter's domain (−ln p is ``+inf`` there, without calling the model, and the line search
backs off), start values and fixed values must lie inside, and a solution on a domain's edge
is diagnosed as such instead of being reported as success.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InputError
from ..optimize import show_value

__all__ = ["CLOSED", "Domain", "as_domain"]

#: The values of :attr:`Domain.closed`: which ends belong to the interval.
CLOSED = ("both", "left", "right", "neither")


def _bound(value, name: str) -> float:
    if isinstance(value, bool):
        raise InputError(f"`{name}` of a Domain must be a number; got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"`{name}` of a Domain must be a number; got "
                         f"{show_value(value)}") from None
    if math.isnan(number):
        raise InputError(f"`{name}` of a Domain must not be nan")
    return number


@dataclass(frozen=True)
class Domain:
    """The interval of values a parameter may take.

    Parameters
    ----------
    low, high : float
        The ends (``-inf``/``inf`` for none; ``low < high``). Infinite ends never belong to
        the domain: a parameter is always finite.
    closed : {'both', 'left', 'right', 'neither'}
        Which finite ends belong to the domain (``'both'``: ``low <= x <= high``;
        ``'left'``: ``low <= x < high``; ``'right'``: ``low < x <= high``; ``'neither'``:
        ``low < x < high``).

    Raises
    ------
    InputError
        A bound that is not a number, ``low >= high``, or an unknown ``closed``.

    Examples
    --------
    >>> Domain(0.0, math.inf, closed="neither")   # a radius
    Domain(low=0.0, high=inf, closed='neither')
    >>> str(Domain(0.0, 1.0, closed="left"))      # an eccentricity
    '[0, 1)'
    """

    low: float = -math.inf
    high: float = math.inf
    closed: str = "both"

    def __post_init__(self):
        low, high = _bound(self.low, "low"), _bound(self.high, "high")
        if not low < high:
            raise InputError(f"`low` of a Domain must be < `high`; got low={low!r}, "
                             f"high={high!r}")
        if self.closed not in CLOSED:
            raise InputError(f"`closed` of a Domain must be one of {list(CLOSED)}; got "
                             f"{self.closed!r}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def low_closed(self) -> bool:
        """Whether ``low`` itself belongs to the domain (never when it is -inf)."""
        return self.closed in ("both", "left") and math.isfinite(self.low)

    @property
    def high_closed(self) -> bool:
        """Whether ``high`` itself belongs to the domain (never when it is inf)."""
        return self.closed in ("both", "right") and math.isfinite(self.high)

    @property
    def unbounded(self) -> bool:
        """Whether the domain is the whole real line."""
        return self.low == -math.inf and self.high == math.inf

    def contains(self, x: float) -> bool:
        """Whether ``x`` lies in the domain (never for nan or an infinite ``x``)."""
        x = float(x)
        if not math.isfinite(x):
            return False
        above = x >= self.low if self.low_closed else x > self.low
        below = x <= self.high if self.high_closed else x < self.high
        return above and below

    def inner_bounds(self) -> tuple[float, float]:
        """The closed interval of floats in the domain: open ends moved in by one ulp."""
        low = self.low if self.low_closed or self.low == -math.inf else math.nextafter(
            self.low, math.inf)
        high = self.high if self.high_closed or self.high == math.inf else math.nextafter(
            self.high, -math.inf)
        return low, high

    def __str__(self) -> str:
        def show(v: float) -> str:
            return f"{v:g}" if math.isfinite(v) else ("-inf" if v < 0 else "inf")

        left = "[" if self.low_closed else "("
        right = "]" if self.high_closed else ")"
        return f"{left}{show(self.low)}, {show(self.high)}{right}"

    def to_dict(self) -> dict:
        """A JSON-safe dict (infinite ends as ``None``)."""
        return {"low": self.low if math.isfinite(self.low) else None,
                "high": self.high if math.isfinite(self.high) else None,
                "closed": self.closed}


#: The whole real line: the domain of a parameter that declares none.
UNBOUNDED = Domain()


def as_domain(value, what: str = "domain") -> Domain:
    """A :class:`Domain` from a Domain, None (unbounded) or a ``(low, high)`` pair (closed).

    ``None`` as an end of a pair means no bound on that side.

    Raises
    ------
    InputError
        Anything else, naming ``what``.
    """
    if value is None:
        return UNBOUNDED
    if isinstance(value, Domain):
        return value
    if isinstance(value, tuple | list) and len(value) == 2:
        low, high = value
        try:
            return Domain(-math.inf if low is None else low, math.inf if high is None else high)
        except InputError as e:
            raise InputError(f"`{what}`: {e}") from None
    raise InputError(f"`{what}` must be a Domain, a (low, high) pair or None; got "
                     f"{show_value(value)}")
