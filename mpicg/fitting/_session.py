"""What a named fit does on rank 0 around the CG run: scales before, uncertainties after.

:func:`~._collective.collective_cg` runs a :class:`NamedSession`'s :meth:`~NamedSession.start`
on rank 0 before the first iteration (the curvature probes of ``scale="auto"``, the map to
scaled variables, the finite-difference rule in them) and :meth:`~NamedSession.finish` after
the last (the result back in the parameters' units, the Hessian, the diagnosis). Every
evaluation goes through the job's evaluator, so under MPI all ranks share it.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, replace

import numpy as np

from ..errors import InputError
from ..optimize import EPSILON, LOG, FiniteDifference, OptimizeResult, vecnorm
from .diagnosis import EDGE_TOLERANCE, Edge, diagnose
from .scaling import (
    DEFAULT_STEP,
    DIAGNOSIS_STEP,
    FIRST_PROBE,
    HESSIAN_STEP,
    ScaledEvaluator,
    Scaling,
    curvature_scales,
)
from .uncertainties import estimate_uncertainties

__all__ = ["NamedSession", "bounds_and_edges"]


@dataclass
class NamedSession:
    """The scaling, uncertainties and diagnosis of one named fit (rank 0's side).

    Attributes
    ----------
    names : list of str
        The fitted parameters.
    x0 : ndarray, shape (n,)
        The start, in the parameters' units.
    scale : dict
        Name -> ``"auto"``, ``"none"`` or a number (checked).
    steps : dict
        Name -> the user's :class:`~.steps.Step` (absent: the default).
    fd_scheme : str
        ``"forward"`` or ``"central"``.
    lower, upper : ndarray, shape (n,)
        Closed bounds: domains and prior supports intersected.
    edges : list of list of Edge
        Each parameter's finite bounds, for the diagnosis.
    widths : list of float or None
        Each parameter's prior width (the fallback scale).
    units : dict
        Name -> unit.
    noisy : bool
        The model's output jitters (default steps above the jitter).
    uncertainties : bool
        Compute the Hessian at the solution.
    gtol, norm : float
        The tolerance and norm of the CG's stopping test, for the diagnosis.
    maxiter : int
        For the diagnosis.
    """

    names: list[str]
    x0: np.ndarray
    scale: dict
    steps: dict
    fd_scheme: str
    lower: np.ndarray
    upper: np.ndarray
    edges: list
    widths: list
    units: dict
    noisy: bool
    uncertainties: bool
    gtol: float
    norm: float
    maxiter: int

    def __post_init__(self):
        self._scaling: Scaling | None = None
        self._sources: list[str] = []
        self._nfev_scales = 0
        self._evaluator_x = None

    # -- before the first iteration -------------------------------------------------------

    def check_resume(self, checkpoint) -> None:
        """Rank 0, in the checks: a progress file must carry the scales it was run with."""
        record = checkpoint.options.get("scaling")
        if record is None:
            raise InputError("the progress file was not written by a named fit (it has no "
                             "scales); resume it with mpicg.fit")
        stored = Scaling.from_record(record)
        if stored.scale.size != len(self.names):
            raise InputError(f"the progress file fits {stored.scale.size} parameters; this "
                             f"fit has {len(self.names)} {self.names}")
        for i, name in enumerate(self.names):
            given = self.scale[name]
            if not isinstance(given, str) and given != stored.scale[i]:
                raise InputError(f"`scale['{name}']` = {given!r} differs from the scale "
                                 f"{stored.scale[i]!r} the progress file was written with; "
                                 "a resumed fit keeps its scales")

    def start(self, evaluator, ready: dict):
        """Scales and the CG's start: ``(evaluator, u0, gradient rule, record)`` in ``u``."""
        self._evaluator_x = evaluator
        checkpoint = ready.get("checkpoint")
        if checkpoint is not None:
            record = checkpoint.options["scaling"]
            self._scaling = Scaling.from_record(record)
            self._sources = list(record["sources"])
            self._nfev_scales = int(record["nfev"])
            # The file's scales win (check_resume refused conflicting numbers); whether a
            # parameter ran unscaled decides how the Hessian finds its steps.
            self.scale = {name: "none" if source == "none" else
                          ("auto" if self.scale[name] == "none" else self.scale[name])
                          for name, source in zip(self.names, self._sources, strict=True)}
            u0 = ready["x0"]
            fd = checkpoint.options["fd"]
            rule = self._bounded(FiniteDifference(fd["method"], abs_step=fd["abs_step"],
                                                  rel_step=fd["rel_step"]))
            return ScaledEvaluator(evaluator, self._scaling), u0, rule, record
        self._scaling = self._make_scaling(evaluator)
        u0 = self._scaling.to_u(self.x0)
        rule = self._bounded(self._rule())
        record = {**self._scaling.to_record(), "sources": list(self._sources),
                  "nfev": self._nfev_scales}
        return ScaledEvaluator(evaluator, self._scaling), u0, rule, record

    def _make_scaling(self, evaluator) -> Scaling:
        n = len(self.names)
        scale = np.ones(n)
        offset = self.x0.copy()
        sources = []
        auto = np.array([self.scale[k] == "auto" for k in self.names])
        for i, name in enumerate(self.names):
            given = self.scale[name]
            if given == "none":
                offset[i] = 0.0
                sources.append("none")
            elif given != "auto":
                scale[i] = float(given)
                sources.append("given")
            else:
                sources.append("")
        if auto.any():
            LOG.info("scales: the curvature of -ln p along %d parameter(s) at the start "
                     "(2-3 evaluations each, in one to a few rounds)", int(auto.sum()))
            estimate = curvature_scales(evaluator.evaluate, self.x0, self._probe_steps(self.x0),
                                        auto, self.lower, self.upper, self.widths)
            scale[auto] = estimate.scales[auto]
            for i in np.flatnonzero(auto):
                sources[i] = estimate.sources[i]
            self._nfev_scales = estimate.nfev
        self._sources = sources
        return Scaling(offset=offset, scale=scale)

    def _probe_steps(self, x: np.ndarray) -> np.ndarray:
        """The first probe step at ``x``: the user's, else 1e-4 of the value (or prior width)."""
        probe = np.empty(len(self.names))
        for i, name in enumerate(self.names):
            step = self.steps.get(name)
            if step is not None:
                probe[i] = (step.size if step.kind == "absolute"
                            else step.size * (abs(x[i]) or 1.0))
                continue
            probe[i] = FIRST_PROBE * (abs(x[i]) or 1.0)
            if self.widths[i] is not None:
                probe[i] = min(probe[i], self.widths[i])
        return probe

    def _rule(self) -> FiniteDifference:
        """The finite-difference rule in scaled variables."""
        s = self._scaling.scale
        absolute = np.empty(len(self.names))
        relative = np.full(len(self.names), np.nan)
        for i, name in enumerate(self.names):
            step, scaled = self.steps.get(name), self.scale[name] != "none"
            if step is None:
                absolute[i] = (DEFAULT_STEP[self.noisy, self.fd_scheme] if scaled
                               else EPSILON)
            elif step.kind == "absolute":
                absolute[i] = step.size / s[i]
            elif scaled:  # relative to the start: u has no value to be relative to
                absolute[i] = step.size * (abs(self.x0[i]) or 1.0) / s[i]
            else:
                absolute[i], relative[i] = np.nan, step.size
        return FiniteDifference(self.fd_scheme, abs_step=absolute,
                                rel_step=relative if np.isfinite(relative).any() else None)

    def _bounded(self, rule: FiniteDifference) -> FiniteDifference:
        """``rule`` kept inside the bounds (in scaled variables), when there are any."""
        if np.all(np.isinf(self.lower)) and np.all(np.isinf(self.upper)):
            return rule
        return FiniteDifference(rule.method, abs_step=rule.abs_step, rel_step=rule.rel_step,
                                lower=self._scaling.to_u(self.lower),
                                upper=self._scaling.to_u(self.upper))

    def wrap_callback(self, callback):
        """``callback`` called with the parameters (not the scaled variables), in its form."""
        if callback is None or not callable(callback):
            return callback  # not callable: the option checks reject it, before the fit
        try:
            wants_result = set(inspect.signature(callback).parameters) == {
                "intermediate_result"}
        except (TypeError, ValueError):
            wants_result = False
        if wants_result:
            def with_result(intermediate_result):
                return callback(intermediate_result=OptimizeResult(
                    x=self._scaling.to_x(intermediate_result.x), fun=intermediate_result.fun))
            return with_result

        def with_x(xk):
            return callback(self._scaling.to_x(xk))
        return with_x

    # -- after the last iteration ---------------------------------------------------------

    def finish(self, evaluator, result: OptimizeResult) -> OptimizeResult:
        """The result in the parameters' units, with scales, uncertainties and diagnosis.

        ``evaluator`` is the one :meth:`start` returned (scaled variables); the Hessian is
        measured through the parameters' own evaluator, in variables scaled by about one σ:
        the CG's scales, or, for parameters fitted with ``scale="none"``, the curvature at
        the solution (one more batch).
        """
        scaling = self._scaling
        u = np.asarray(result.x, dtype=float)
        x = scaling.to_x(u)
        width = scaling.scale.copy()
        uncertainties, skipped, nfev, lower_inside = None, "", 0, {}
        if not self.uncertainties:
            skipped = "uncertainties are switched off"
        elif result.status == 3 or not np.all(np.isfinite(x)):
            skipped = "the objective became NaN"
        else:
            unscaled = np.array([self.scale[k] == "none" for k in self.names])
            if unscaled.any():
                probe = curvature_scales(self._evaluator_x.evaluate, x, self._probe_steps(x),
                                         unscaled, self.lower, self.upper, self.widths)
                width[unscaled] = probe.scales[unscaled]
                nfev += probe.nfev
            room = np.minimum(self.upper - x, x - self.lower) / width
            near = (room <= EDGE_TOLERANCE) & ~unscaled
            if near.any():
                LOG.info("uncertainties: the curvature at the solution along %s, near an "
                         "edge by the start's scale", ", ".join(np.array(self.names)[near]))
                # The CG's scale is about σ at the start (or a prior's width, or a probe
                # step where the curvature there was not positive), which can be far from
                # σ here: measure it at the solution before calling the parameter at the
                # edge (the probes stay inside the bounds).
                probe = curvature_scales(self._evaluator_x.evaluate, x, self._probe_steps(x),
                                         near, self.lower, self.upper, self.widths)
                measured = near & np.array([s == "curvature" for s in probe.sources])
                width[measured] = probe.scales[measured]
                nfev += probe.nfev
                room = np.minimum(self.upper - x, x - self.lower) / width
            if np.any(room <= EDGE_TOLERANCE):
                skipped = "a parameter is at an edge of its domain or prior"
                lower_inside, more = self._probe_inside(x, room <= EDGE_TOLERANCE, width,
                                                        float(result.fun))
                nfev += more
            else:
                around = Scaling(offset=x, scale=width)
                uncertainties = estimate_uncertainties(
                    ScaledEvaluator(self._evaluator_x, around).evaluate, np.zeros(x.size),
                    around, around.to_u(self.lower), around.to_u(self.upper),
                    step=HESSIAN_STEP[self.noisy], gradient_step=DIAGNOSIS_STEP[self.noisy])
                nfev += uncertainties.nfev
                uncertainties = replace(uncertainties, nfev=nfev)
        diagnosis = diagnose(status=int(result.status), names=self.names, x=x,
                             units=self.units, edges=self.edges, scale=width,
                             gnorm=float(vecnorm(np.asarray(result.jac), ord=self.norm)),
                             gtol=self.gtol, maxiter=self.maxiter,
                             uncertainties=uncertainties, uncertainties_skipped=skipped,
                             lower_inside=lower_inside)
        out = OptimizeResult(result)
        out.update(x=x, jac=np.asarray(result.jac) / scaling.scale, jac_scaled=result.jac,
                   scaling=scaling, scale_sources=list(self._sources),
                   nfev_scales=self._nfev_scales, nfev_after=nfev, uncertainties=uncertainties,
                   uncertainties_skipped=skipped, diagnosis=diagnosis)
        return out

    def _probe_inside(self, x: np.ndarray, at_edge: np.ndarray, width: np.ndarray,
                      f: float) -> tuple[dict, int]:
        """Whether -ln p is lower inside the bounds than at a parameter's edge (one round).

        A fit that ends on an edge usually found its minimum beyond it; but one that
        started on an edge about which the model is symmetric (a transit's inclination of
        90 deg) has no slope there to leave it by. Each such parameter is moved inwards by
        one and by three widths, and (the width may be a fallback far from σ) by a
        thousandth, a hundredth and a tenth of its bounds' span, within its bounds; the
        probe that lowers -ln p most, if any, is returned as ``{name: (distance,
        decrease)}``, with the evaluations made.
        """
        points, where = [], []
        for i in np.flatnonzero(at_edge):
            inward = -1.0 if self.upper[i] - x[i] <= x[i] - self.lower[i] else 1.0
            room = self.upper[i] - self.lower[i]
            tried = [k * width[i] for k in (1.0, 3.0)]
            if np.isfinite(room):
                tried += [share * room for share in (1e-3, 1e-2, 1e-1)]
            for distance in sorted({min(d, 0.5 * room) for d in tried}):
                if np.isfinite(distance) and distance > 0:
                    point = x.copy()
                    point[i] += inward * distance
                    points.append(point)
                    where.append((i, distance))
        if not points:
            return {}, 0
        LOG.info("diagnosis: -ln p inside the bounds of %s, at an edge (%d evaluations)",
                 ", ".join(self.names[i] for i in sorted({i for i, _ in where})), len(points))
        values = np.asarray(self._evaluator_x.evaluate(np.array(points)), dtype=float)
        found: dict = {}
        for (i, distance), value in zip(where, values, strict=True):
            decrease = f - float(value)
            name = self.names[i]
            if np.isfinite(value) and decrease > 0 and decrease > found.get(name, (0, 0))[1]:
                found[name] = (distance, decrease)
        return found, len(points)


def bounds_and_edges(names, domains: dict, priors) -> tuple[np.ndarray, np.ndarray, list]:
    """Each fitted parameter's closed bounds (domain and prior support) and its edges.

    Raises
    ------
    InputError
        A prior whose support lies outside the parameter's domain.
    """
    lower, upper, edges = [], [], []
    for name in names:
        domain = domains[name]
        low, high = domain.inner_bounds()
        mine = []
        if np.isfinite(domain.low):
            mine.append(Edge(domain.low, "lower", f"domain {domain}"))
        if np.isfinite(domain.high):
            mine.append(Edge(domain.high, "upper", f"domain {domain}"))
        if priors is not None and name in priors:
            dist = priors.distribution(name)
            p_low, p_high = dist.support
            if p_low > low:
                low = p_low
                mine.append(Edge(p_low, "lower", f"prior {dist!r}"))
            if p_high < high:
                high = p_high
                mine.append(Edge(p_high, "upper", f"prior {dist!r}"))
            if not low <= high:
                raise InputError(f"the prior on {name!r} ({dist!r}) lies outside its domain "
                                 f"{domain}")
        lower.append(low)
        upper.append(high)
        edges.append(mine)
    return np.array(lower, dtype=float), np.array(upper, dtype=float), edges
