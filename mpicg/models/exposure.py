"""Exposure-time integration (supersampling) of any model, one time at a time.

A detector reports the flux averaged over each exposure: Kepler and K2 long cadence spend
29.4 minutes on a point, which rounds off the contacts of an eclipse and, fitted with an
instantaneous model, biases the radii and the inclination (Kipping 2010, "Binning is sinning:
morphological light-curve distortions due to finite integration time", MNRAS 408, 1758).
:class:`Integrated` averages the model over each exposure with the midpoint rule on
``supersample`` sub-exposures, as Kipping (2010) recommends:

    F(t) = (1 / N) sum_{j=0}^{N-1} f(t + T ((j + 1/2) / N - 1/2))

for the exposure time ``T`` of the segment ``t`` belongs to (time stamps are mid-exposure, as
in Kepler, K2 and TESS files). The sub-exposure times of a time, and the order of the sum,
depend on that time alone, so a chunk of the times gives each time's flux to the same bits
as the whole light curve: splitting over ranks changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np

from ..fitting.parameters import ModelWrapper, Parameter, ParameterizedModel
from .segments import Segments

__all__ = ["Integrated"]


@dataclass(frozen=True)
class Integrated(ModelWrapper):
    """A model averaged over each exposure, from ``supersample`` instants per time.

    Parameters
    ----------
    model : ParameterizedModel
        The instantaneous model.
    exposure_time : float or tuple of float
        The exposure time (d): one for all times, or one per segment of ``segments``
        (a light curve of Kepler long cadence and TESS two-minute files has both).
    supersample : int
        Instants averaged per exposure (1: the model itself, no integration).
    segments : Segments, optional
        Which exposure time applies to a time (default: one segment).

    Raises
    ------
    ValueError
        ``supersample`` not an integer >= 1, an exposure time negative or not finite, or
        not one exposure time per segment.

    Notes
    -----
    The cost is ``supersample`` model evaluations per time. Parameters, units and the
    ephemeris are the model's.
    """

    model: ParameterizedModel
    exposure_time: float | tuple[float, ...] = 0.0
    supersample: int = 1
    segments: Segments = field(default_factory=Segments)

    def __post_init__(self):
        if not (isinstance(self.supersample, Integral) and not isinstance(self.supersample, bool)
                and self.supersample >= 1):
            raise ValueError(f"`supersample` must be an integer >= 1; got {self.supersample!r}")
        given = self.exposure_time
        times = (given,) * len(self.segments) if np.ndim(given) == 0 else tuple(given)
        try:
            times = tuple(float(t) for t in times)
        except (TypeError, ValueError):
            raise ValueError(f"`exposure_time` must be a number of days or one per segment; "
                             f"got {given!r}") from None
        if len(times) != len(self.segments):
            raise ValueError(f"`exposure_time` must hold one value per segment "
                             f"({len(self.segments)}); got {len(times)}")
        if not all(math.isfinite(t) and t >= 0 for t in times):
            raise ValueError(f"`exposure_time` must be finite and >= 0 (d); got {given!r}")
        object.__setattr__(self, "exposure_time", times)
        object.__setattr__(self, "supersample", int(self.supersample))

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        """The model's."""
        return self.model.parameters

    def __call__(self, values, times) -> np.ndarray:
        """The model averaged over the exposure of each of ``times``.

        Parameters
        ----------
        values : array_like
            Every parameter, in the order of :attr:`parameters`.
        times : array_like
            Mid-exposure times (d), any chunk of the light curve.

        Returns
        -------
        ndarray
            Flux, the shape of ``times``.
        """
        times = np.asarray(times, dtype=float)
        n = self.supersample
        if n == 1:
            return self.model(values, times)
        shape = times.shape
        flat = times.ravel()
        exposure = np.asarray(self.exposure_time)[self.segments.index(flat)]
        offsets = (np.arange(n) + 0.5) / n - 0.5  # fractions of the exposure
        instants = flat[:, None] + exposure[:, None] * offsets[None, :]
        flux = np.asarray(self.model(values, instants.ravel()), dtype=float)
        flux = flux.reshape(flat.size, n)
        # Add the instants in a fixed order, column by column: each time's sum is then the
        # same floating-point operations whatever else is in the chunk.
        total = flux[:, 0].copy()
        for j in range(1, n):
            total += flux[:, j]
        return (total / n).reshape(shape)
