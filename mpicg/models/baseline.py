"""A fittable flux level, and optionally a linear trend, per segment, around any model.

Real light curves are normalised only roughly (a median, a pipeline's detrending), and each
quarter, campaign or sector has its own level. :class:`Baseline` multiplies any model's flux by

    level_k * (1 + slope_k * (t - centre_k))

for the segment ``k`` a time belongs to (:class:`~.segments.Segments`), adding the parameters
``level`` and ``slope`` (one segment) or ``level_1 ... level_n`` and ``slope_1 ... slope_n``
to the model's own. A multiplicative baseline keeps eclipse depths relative to the star's
flux, as they are physically. With level 1 and no trend the flux is the model's, bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..fitting.parameters import ModelWrapper, Parameter, ParameterizedModel
from ._domains import POSITIVE
from .segments import Segments

__all__ = ["Baseline", "baseline_parameter_names"]


def baseline_parameter_names(n_segments: int, trend: bool) -> list[str]:
    """The names :class:`Baseline` adds: ``level`` (and ``slope``), or numbered per segment."""
    kinds = ("level", "slope") if trend else ("level",)
    if n_segments == 1:
        return list(kinds)
    return [f"{kind}_{k}" for kind in kinds for k in range(1, n_segments + 1)]


@dataclass(frozen=True)
class Baseline(ModelWrapper):
    """A model's flux times a level (and a linear trend) per segment of the light curve.

    Parameters
    ----------
    model : ParameterizedModel
        The model (normalised flux, 1 out of eclipse for the built-in ones).
    segments : Segments, optional
        Where each level (and slope) applies (default: one segment for all times).
    trend : bool, optional
        Also a slope per segment (relative flux per day, zero at the segment's centre).

    Raises
    ------
    ValueError
        The model already has a parameter of one of the added names, or a trend is asked of
        a segment without a finite centre.

    Notes
    -----
    The parameters are the model's, in its order, then the levels, then the slopes.
    """

    model: ParameterizedModel
    segments: Segments = field(default_factory=Segments)
    trend: bool = False

    def __post_init__(self):
        added = baseline_parameter_names(len(self.segments), self.trend)
        clash = sorted(set(added) & set(self.model.parameter_names))
        if clash:
            raise ValueError(f"the model already has parameter(s) {clash}; use no baseline "
                             "or rename them")
        if self.trend and not all(math.isfinite(c) for c in self.segments.centres):
            raise ValueError("a trend needs a finite centre time for every segment; got "
                             f"{self.segments.centres}")

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        """The model's parameters, then a level (and a slope) per segment."""
        n = len(self.segments)
        names = baseline_parameter_names(n, self.trend)
        where = [f" ({name})" if n > 1 else "" for name in self.segments.names]
        added = [Parameter(name, 1.0, "", f"flux level{where[k % n]}", POSITIVE)
                 for k, name in enumerate(names[:n])]
        added += [Parameter(name, 0.0, "1/d", f"relative flux trend{where[k % n]}")
                  for k, name in enumerate(names[n:])]
        return (*self.model.parameters, *added)

    def baseline(self, values, times) -> np.ndarray:
        """The factor the model's flux is multiplied by at ``times``.

        Parameters
        ----------
        values : array_like
            Every parameter, in the order of :attr:`parameters`.
        times : array_like
            Times (d).

        Returns
        -------
        ndarray
            ``level_k * (1 + slope_k * (t - centre_k))``, the shape of ``times``.
        """
        values = self.check_values(values)
        n_model, n = len(self.model.parameters), len(self.segments)
        times = np.asarray(times, dtype=float)
        k = self.segments.index(times)
        factor = values[n_model:n_model + n][k]
        if self.trend:
            slopes = values[n_model + n:n_model + 2 * n][k]
            factor = factor * (1.0 + slopes * (times - np.asarray(self.segments.centres)[k]))
        return factor

    def __call__(self, values, times) -> np.ndarray:
        """The model's flux at ``times`` times the baseline.

        Parameters
        ----------
        values : array_like
            Every parameter, in the order of :attr:`parameters`.
        times : array_like
            Times (d), any chunk of the light curve.

        Returns
        -------
        ndarray
            Flux, the shape of ``times``.
        """
        values = self.check_values(values)
        flux = self.model(values[:len(self.model.parameters)], times)
        return self.baseline(values, times) * flux
