"""A planetary transit light curve, integrated numerically over the planet's disc.

A dark planet on a circular orbit crosses a star with quadratic limb darkening,
``I(mu) = 1 - u1 (1 - mu) - u2 (1 - mu)^2``. The flux blocked at each time is the stellar
intensity integrated over the planet's disc on a polar grid of ``resolution`` rings and
``2 * resolution`` sectors (midpoint rule), so the cost per time grows as ``resolution**2``:
from a cheap demo to a PHOEBE-like cost per observation. Every time costs the same (the grid
is evaluated in and out of transit alike), which keeps the work of MPI ranks balanced.

Each time is computed independently of the others, the contract mpicg needs to split a light
curve over ranks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..fitting.parameters import Parameter, ParameterizedModel
from ._domains import INCLINATION, POSITIVE, SEMI_MAJOR_AXIS

__all__ = ["TransitModel"]

_CHUNK = 32  # times per vectorized slab: bounds memory to _CHUNK * 2 * resolution**2 floats


@dataclass(frozen=True)
class TransitModel(ParameterizedModel):
    """Relative flux of a star transited by a dark planet.

    The fitted parameters ``x`` are, in order:

    ``t0``
        time of mid-transit (same unit as the times);
    ``rp``
        planet radius over stellar radius;
    ``a``
        orbital semi-major axis over stellar radius;
    ``inc``
        orbital inclination in degrees (90 is edge-on).

    Parameters
    ----------
    period : float
        Orbital period (same unit as the times).
    u1, u2 : float
        Quadratic limb-darkening coefficients.
    resolution : int
        Rings of the integration grid over the planet's disc (sectors: twice as many).
    """

    period: float = 3.0
    u1: float = 0.4
    u2: float = 0.25
    resolution: int = 12

    parameters = (
        Parameter("t0", 0.0, "d", "time of mid-transit"),
        Parameter("rp", 0.1, "", "planet radius / stellar radius", POSITIVE),
        Parameter("a", 10.0, "", "semi-major axis / stellar radius", SEMI_MAJOR_AXIS),
        Parameter("inc", 90.0, "deg", "orbital inclination", INCLINATION),
    )

    def __post_init__(self):
        if not (self.period > 0):
            raise ValueError(f"`period` must be > 0; got {self.period!r}")
        if not (isinstance(self.resolution, int) and self.resolution >= 1):
            raise ValueError(f"`resolution` must be an integer >= 1; got {self.resolution!r}")

    epoch_parameter = "t0"

    def ephemeris(self, values: dict[str, float]) -> tuple[float, float] | None:
        """The period (a setting of this model) and ``t0``."""
        return float(self.period), float(values["t0"])

    def _grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_r, n_theta = self.resolution, 2 * self.resolution
        rho = (np.arange(n_r) + 0.5) / n_r  # ring mid-radii, in units of rp
        theta = 2 * np.pi * (np.arange(n_theta) + 0.5) / n_theta
        weight = rho / n_r * (2 * np.pi / n_theta)  # rho d(rho) d(theta), unit disc
        return rho[:, None], np.cos(theta)[None, :], np.broadcast_to(weight[:, None],
                                                                    (n_r, n_theta))

    def __call__(self, x: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Relative flux (1 out of transit) at ``times`` for parameters ``x``."""
        t0, rp, a, inc = (float(v) for v in x)
        times = np.asarray(times, dtype=float)
        phase = 2 * np.pi * (times - t0) / self.period
        cos_i = np.cos(np.radians(inc))
        z = a * np.sqrt(np.sin(phase) ** 2 + (cos_i * np.cos(phase)) ** 2)
        in_front = np.cos(phase) > 0  # the planet is behind the star half of the orbit
        rho, cos_theta, weight = self._grid()
        total = np.pi * (1 - self.u1 / 3 - self.u2 / 6)  # the unocculted star's flux
        cell = max(rp, 1e-12) / self.resolution  # radial size of a grid cell
        flux = np.empty_like(times)
        for lo in range(0, times.size, _CHUNK):
            zc = z[lo:lo + _CHUNK, None, None]
            # squared distance from the star's centre of each grid point on the planet
            r2 = zc * zc + (rp * rho) ** 2 + 2 * zc * (rp * rho) * cos_theta
            mu = np.sqrt(np.clip(1.0 - r2, 0.0, None))
            one_minus_mu = 1.0 - mu
            intensity = 1.0 - self.u1 * one_minus_mu - self.u2 * one_minus_mu**2
            # Weight each cell by the fraction of it on the stellar disc (a linear ramp across
            # the limb): a hard cut would make the flux jump whenever a grid point crosses
            # the limb, and finite differences would see steps instead of a slope.
            on_star = np.clip(0.5 + (1.0 - np.sqrt(r2)) / cell, 0.0, 1.0)
            blocked = rp * rp * np.sum(intensity * on_star * weight, axis=(1, 2))
            flux[lo:lo + _CHUNK] = 1.0 - np.where(in_front[lo:lo + _CHUNK], blocked, 0.0) / total
        return flux
