"""Scaled fit variables: CG runs on ``u = (x - x0) / s``, each ``s`` about a parameter's σ.

Conjugate gradients converge fast when the objective's curvature is about the same in every
direction. A light-curve fit's parameters differ in their uncertainties by orders of
magnitude (an inclination to 0.01 deg, a period to 1e-7 d), and so does the curvature of
``-ln p`` along them: CG then zig-zags for hundreds of iterations, and no single ``gtol``
suits every parameter. Named fits therefore run CG on ``u = (x - x0) / s``, with ``s`` the
parameter's scale (``scale``, per parameter):

``"auto"`` (the default)
    ``s_i = 1 / sqrt(H_ii)`` from the diagonal curvature ``H_ii`` of ``-ln p`` at the start,
    measured by central second differences, all 2n + 1 points in one batch (shared over the
    ranks like a gradient). A step far from the σ it reveals (outside 1-10 σ) is retried at
    3 σ, and a step that finds no positive curvature (a mesh's jitter swamps it) ten times
    wider, in another batch of 2n points at most, :data:`PROBE_ROUNDS` batches in all:
    steps well above a mesh model's jitter, and curvature measured over the width that
    matters. Where the curvature is still not positive (a start in a region that is not a
    valley), the prior's width is used, or else the last probe step.
a number
    ``s`` itself, in the parameter's unit.
``"none"``
    ``s = 1`` and ``x0 = 0``: CG runs on ``x`` itself, exactly as without scaling (PHOEBE's
    and scipy's semantics: ``gtol`` is then a bound on ``d(-ln p)/dx`` in the parameter's
    own unit).

In scaled variables ``gtol`` bounds ``d(-ln p)/du = s d(-ln p)/dx``; near the minimum
``-ln p ~ 1/2 sum ((x_i - x*_i)/σ_i)^2`` (uncorrelated), so a scaled gradient ``g`` puts the
parameter about ``g σ^2 / s`` from the minimum: with ``s ~ σ``, ``g σ``. ``gtol = 0.01``
stops within about a hundredth of a σ of the minimum in every parameter, whatever its unit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..optimize import curvature_from_values, curvature_points, show_value

__all__ = ["DEFAULT_STEP", "DIAGNOSIS_STEP", "FIRST_PROBE", "HESSIAN_STEP", "PROBE_ROUNDS",
           "SCALE_MODES", "ScaleEstimate", "ScaledEvaluator", "Scaling", "check_scale",
           "check_scale_value", "curvature_scales", "prior_width"]

#: The named modes of ``scale`` (besides a number).
SCALE_MODES = ("auto", "none")
#: Default finite-difference steps of scaled fits, in units of ``s`` (about a σ), by
#: whether the model is noisy (``ParameterizedModel.noisy``) and the scheme. Forward
#: differences are biased by about half a step (in σ), central ones by a step squared times
#: the third derivative, which a strongly curved valley (a transit's a-inc banana) makes
#: matter at half a σ; a noisy model's jitter J, though, adds about J / step to every
#: gradient component, so a mesh model needs steps of about half a σ, and central
#: differences (forward ones would be biased by a quarter σ).
DEFAULT_STEP = {(False, "forward"): 1e-4, (False, "central"): 0.1,
                (True, "forward"): 0.5, (True, "central"): 0.5}
#: Step of the uncertainties' Hessian, in units of ``s``, for smooth and for noisy models:
#: a tenth of a σ resolves the curvature of a strongly correlated pair (a wider step
#: averages it over a curved valley, and a correlation of 0.99 leaves a determinant of 2 %
#: to get right); a noisy model's jitter J adds about J / step^2 to every element, so it
#: needs steps of a σ.
HESSIAN_STEP = {False: 0.1, True: 1.0}
#: Step of the central gradient the diagnosis judges the distance to the minimum by, in
#: units of ``s``, for smooth and for noisy models.
DIAGNOSIS_STEP = {False: 1e-2, True: 0.5}
#: At most this many batches of curvature probes (``"auto"``).
PROBE_ROUNDS = 4
# A probe whose step lies within these many of the σ it finds is accepted; else retried
# at PROBE_TARGET σ.
_PROBE_ACCEPT = (1.0, 10.0)
_PROBE_TARGET = 3.0
# A probe that finds no positive curvature is retried with a step this many times wider.
_WIDEN = 10.0
#: The first probe step without a hint (a step or a prior): this fraction of the value
#: (this, absolute, at 0).
FIRST_PROBE = 1e-4


def check_scale_value(value, where: str = "scale") -> str | float:
    """One parameter's scale: ``"auto"``, ``"none"`` or a finite number > 0.

    Raises
    ------
    InputError
        Anything else, naming ``where`` and the value.
    """
    if isinstance(value, str):
        if value not in SCALE_MODES:
            raise InputError(f"`{where}` must be 'auto', 'none' or a number > 0; got "
                             f"{value!r}")
        return value
    if (isinstance(value, bool) or not isinstance(value, int | float | np.floating)
            or not math.isfinite(value) or value <= 0):
        raise InputError(f"`{where}` must be 'auto', 'none' or a number > 0; got "
                         f"{show_value(value)}")
    return float(value)


def check_scale(scale, fit_parameters: list[str]) -> dict[str, str | float]:
    """Each fitted parameter's scale: ``"auto"``, ``"none"`` or a number > 0.

    Parameters
    ----------
    scale : str, float or dict
        One mode or number for all, or ``{name: mode or number}`` (names left out:
        ``"auto"``).
    fit_parameters : list of str
        The fitted parameters.

    Raises
    ------
    InputError
        An unknown mode, a number that is not finite and > 0, a name not fitted.
    """
    if isinstance(scale, dict):
        unknown = [k for k in scale if k not in fit_parameters]
        if unknown:
            raise InputError(f"`scale` names {unknown}, which are not in fit_parameters "
                             f"{fit_parameters}")
        return {n: check_scale_value(scale.get(n, "auto"), f"scale['{n}']")
                for n in fit_parameters}
    value = check_scale_value(scale)
    return dict.fromkeys(fit_parameters, value)


@dataclass(frozen=True)
class Scaling:
    """The affine map between a fit's parameters ``x`` and CG's variables ``u``.

    ``x = offset + scale * u``; ``offset`` is the start (0 where a parameter is not scaled),
    so ``u`` starts at 0 and a unit of ``u`` is about one σ.

    Attributes
    ----------
    offset : ndarray, shape (n,)
        ``x0`` (0 for ``scale="none"``).
    scale : ndarray, shape (n,)
        ``s`` (1 for ``scale="none"``), in the parameters' units.
    """

    offset: np.ndarray
    scale: np.ndarray

    def to_x(self, u: np.ndarray) -> np.ndarray:
        """Parameters from scaled variables (one vector or a batch, one per row)."""
        return self.offset + self.scale * u

    def to_u(self, x: np.ndarray) -> np.ndarray:
        """Scaled variables from parameters."""
        return (x - self.offset) / self.scale

    def to_record(self) -> dict:
        """What a progress file keeps (arrays, stored exactly)."""
        return {"offset": self.offset.copy(), "scale": self.scale.copy()}

    @classmethod
    def from_record(cls, record: dict) -> Scaling:
        """The scaling :meth:`to_record` described."""
        return cls(offset=np.asarray(record["offset"], dtype=float),
                   scale=np.asarray(record["scale"], dtype=float))


class ScaledEvaluator:
    """A batch evaluator in scaled variables: maps each point to ``x`` and asks ``evaluator``.

    The map is applied on rank 0 and the batch travels in ``x``, so every rank computes the
    model at exactly the same parameters, whatever the number of ranks.
    """

    def __init__(self, evaluator, scaling: Scaling):
        self.evaluator, self.scaling = evaluator, scaling

    def evaluate(self, points: np.ndarray) -> np.ndarray:
        """Objective values at ``points`` (scaled variables, one per row)."""
        return self.evaluator.evaluate(self.scaling.to_x(np.asarray(points, dtype=float)))


def prior_width(distribution) -> float | None:
    """A prior's width: its standard deviation (σ, or width / sqrt(12) for a bounded one).

    ``None`` when it has none (an unbounded distribution without a σ).
    """
    parts = getattr(distribution, "parts", None)
    if parts:
        widths = [w for w in (prior_width(p) for p in parts) if w is not None]
        return min(widths) if widths else None
    widths = []
    sigma = getattr(distribution, "sigma", None)
    if sigma is not None:
        widths.append(float(sigma))
    low, high = distribution.support
    if math.isfinite(high - low):
        widths.append((high - low) / math.sqrt(12.0))
    return min(widths) if widths else None


@dataclass(frozen=True)
class ScaleEstimate:
    """The outcome of the curvature probes (``scale="auto"``).

    Attributes
    ----------
    scales : ndarray, shape (n,)
        ``s`` of each probed parameter (parameters not probed: unchanged input).
    sources : list of str
        Per parameter: ``"curvature"``, ``"prior"`` (the prior's width) or ``"probe step"``
        (the curvature was not positive and there is no prior).
    nfev : int
        Model evaluations made.
    rounds : int
        Batches evaluated.
    """

    scales: np.ndarray
    sources: list[str]
    nfev: int
    rounds: int


def _probe_geometry(x: np.ndarray, h: np.ndarray, lower: np.ndarray, upper: np.ndarray):
    """Steps and sides that keep the probe points inside ``[lower, upper]``."""
    room_up, room_down = upper - x, x - lower
    side = np.zeros(x.size, dtype=int)
    h = h.copy()
    for i in range(x.size):
        if h[i] <= min(room_up[i], room_down[i]):
            continue
        if 2 * h[i] <= room_up[i]:
            side[i] = 1
        elif 2 * h[i] <= room_down[i]:
            side[i] = -1
        else:  # the interval is narrower than the step: shrink it, towards the wider side
            side[i] = 1 if room_up[i] >= room_down[i] else -1
            h[i] = 0.49 * max(room_up[i], room_down[i])
    return h, side


def curvature_scales(evaluate: Callable[[np.ndarray], np.ndarray], x0: np.ndarray,
                     probe: np.ndarray, which: np.ndarray, lower: np.ndarray,
                     upper: np.ndarray, fallback: list[float | None]) -> ScaleEstimate:
    """``s_i = 1 / sqrt(d2(-ln p)/dx_i^2)`` at ``x0``, by batches of second differences.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(points) -> values`` (one collective round per call).
    x0 : ndarray, shape (n,)
        The start.
    probe : ndarray, shape (n,)
        The first probe step of each parameter (> 0).
    which : ndarray of bool, shape (n,)
        The parameters to probe (``scale="auto"``).
    lower, upper : ndarray, shape (n,)
        Closed bounds the probe points must respect (domains and prior supports).
    fallback : list of float or None
        Each parameter's prior width, used where the curvature is not positive.

    Returns
    -------
    ScaleEstimate
        The scales (NaN for parameters not probed) and where each came from.
    """
    n = x0.size
    scales = np.full(n, np.nan)
    sources = ["" for _ in range(n)]
    h = np.asarray(probe, dtype=float).copy()
    pending = np.flatnonzero(which)
    nfev = rounds = 0
    f0 = None
    curvature = np.full(n, np.nan)
    for _ in range(PROBE_ROUNDS):
        if pending.size == 0:
            break
        steps, side = _probe_geometry(x0[pending], h[pending], lower[pending],
                                      upper[pending])
        h[pending] = steps
        # Only the probed parameters move; each row is a full parameter vector.
        local = curvature_points(np.zeros(pending.size), steps, side)
        points = np.repeat(x0[np.newaxis, :], local.shape[0], axis=0)
        points[:, pending] = x0[pending] + local
        if f0 is not None:
            points = points[1:]  # f(x0) is known from the first batch
        values = np.asarray(evaluate(points), dtype=float)
        nfev += len(points)
        rounds += 1
        if f0 is None:
            f0 = values[0]
        else:
            values = np.concatenate([[f0], values])
        found = curvature_from_values(x0[pending], steps, values, side)
        curvature[pending] = found
        retry = []
        for i, c in zip(pending, found, strict=True):
            if not (c > 0):
                # Noise (a mesh's jitter) swamps the curvature at this step, or the start is
                # not in a valley: a wider step, then the fallback below.
                if math.isfinite(c):
                    retry.append(i)
                    h[i] = _WIDEN * h[i]
                continue
            sigma = 1.0 / math.sqrt(c)
            if not (_PROBE_ACCEPT[0] <= h[i] / sigma <= _PROBE_ACCEPT[1]):
                retry.append(i)
                h[i] = _PROBE_TARGET * sigma
        pending = np.array(retry, dtype=int)
    for i in np.flatnonzero(which):
        c = curvature[i]
        if c > 0 and math.isfinite(1.0 / math.sqrt(c)):
            scales[i], sources[i] = 1.0 / math.sqrt(c), "curvature"
        elif fallback[i] is not None:
            scales[i], sources[i] = fallback[i], "prior"
        else:
            scales[i], sources[i] = h[i], "probe step"
    return ScaleEstimate(scales=scales, sources=sources, nfev=nfev, rounds=rounds)
