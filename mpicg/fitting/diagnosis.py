"""Whether a fit converged, in words a person can trust, beside scipy's status.

scipy's ``status`` says why the optimizer stopped, not whether the answer is the minimum:
status 2 ("precision loss") is what a fit at the noise floor of its finite differences
ends with, and also what a fit stuck against a prior's edge ends with. The diagnosis looks
at the solution itself:

``converged``
    the gradient is below ``gtol`` (status 0), no parameter is at an edge of its domain or
    prior and, when the Hessian is computed, it is positive definite and the Newton step
    ``-H^-1 g`` from the last gradient is below :data:`NOISE_STEP` σ in every parameter
    (with strongly correlated parameters a small gradient can still be far from the
    minimum along their degenerate direction).
``converged within the noise``
    precision loss (status 2), but the Hessian is positive definite and the Newton step
    ``-H^-1 g`` to the quadratic's minimum is below :data:`NOISE_STEP` σ in every parameter:
    the line search could not improve on a point that is, within its noise, the minimum.
``not converged``
    with the reason: a parameter at an edge of its domain or of its prior's support (named),
    a Hessian that is not positive definite (not a minimum) or flat within its rounding
    along a combination of parameters (the data do not constrain them separately: named),
    the iteration limit, a NaN, a
    callback's halt, or precision loss far from the minimum.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .uncertainties import Uncertainties, unresolved_parameters

__all__ = ["CONVERGED", "EDGE_TOLERANCE", "NOISE_STEP", "NOT_CONVERGED", "VERDICTS",
           "WITHIN_NOISE", "Diagnosis", "Edge", "diagnose"]

CONVERGED, WITHIN_NOISE, NOT_CONVERGED = ("converged", "converged within the noise",
                                          "not converged")
#: The verdicts, best first.
VERDICTS = (CONVERGED, WITHIN_NOISE, NOT_CONVERGED)
#: A precision-loss stop counts as converged when the Newton step is below this many σ.
NOISE_STEP = 0.1
#: A parameter closer than this many σ (of the scale ``s`` when there is no Hessian) to a
#: bound is at that edge: a minimum there is rarely a chance, and the posterior is cut
#: in half, so the Gaussian σ would mislead. (A fit pushed against an edge creeps towards
#: it as its gradient shrinks, e.g. a radius whose signal goes as its square.)
EDGE_TOLERANCE = 1e-2


@dataclass(frozen=True)
class Edge:
    """One bound of a fitted parameter: a domain's end or a prior support's end.

    Attributes
    ----------
    value : float
        The bound.
    side : {'lower', 'upper'}
        Which end.
    what : str
        ``"domain [0, 90]"`` or ``"prior Uniform(low=..., high=...)"``, for messages.
    """

    value: float
    side: str
    what: str


@dataclass(frozen=True)
class Diagnosis:
    """Whether a fit converged, and why (see the module documentation).

    Attributes
    ----------
    verdict : str
        ``"converged"``, ``"converged within the noise"`` or ``"not converged"``.
    reason : str
        One sentence for people.
    parameters : list of str
        The parameters the reason is about (at an edge, far from the minimum), if any.
    """

    verdict: str
    reason: str
    parameters: list[str]

    @property
    def converged(self) -> bool:
        """True for ``converged`` and ``converged within the noise``."""
        return self.verdict != NOT_CONVERGED

    def __str__(self) -> str:
        return f"{self.verdict}: {self.reason}"

    def to_dict(self) -> dict:
        """A JSON-safe dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Diagnosis:
        """The diagnosis :meth:`to_dict` described."""
        return cls(verdict=str(data["verdict"]), reason=str(data["reason"]),
                   parameters=list(data.get("parameters", [])))


def _show(value: float, unit: str) -> str:
    return f"{value:.10g}" + (f" {unit}" if unit else "")


def diagnose(*, status: int, names: list[str], x: np.ndarray, units: dict[str, str],
             edges: list[list[Edge]], scale: np.ndarray, gnorm: float,
             gtol: float, maxiter: int, uncertainties: Uncertainties | None,
             uncertainties_skipped: str = "", lower_inside: dict | None = None) -> Diagnosis:
    """The diagnosis of a finished named fit.

    Parameters
    ----------
    status : int
        scipy's status (0, 1, 2, 3, 99).
    names : list of str
        The fitted parameters.
    x : ndarray, shape (n,)
        The solution, in the parameters' units.
    units : dict
        Name -> unit.
    edges : list of list of Edge
        Each parameter's finite bounds (domain and prior support ends).
    scale : ndarray, shape (n,)
        The scales ``s`` (about σ at the start), for distances when there is no Hessian.
    gnorm, gtol : float
        The final (scaled) gradient norm and the tolerance.
    maxiter : int
        The iteration limit.
    uncertainties : Uncertainties or None
        The Hessian's outcome; None when it was not computed.
    uncertainties_skipped : str
        Why it was not computed ("" when switched off).
    lower_inside : dict, optional
        Name -> (distance, decrease): a parameter at an edge where -ln p is lower that far
        inside the bounds (the minimum is inside; the fit could not leave the edge).

    Returns
    -------
    Diagnosis
    """
    if status == 3:
        return Diagnosis(NOT_CONVERGED, "the objective became NaN", [])
    sigma = (uncertainties.sigma if uncertainties is not None
             and uncertainties.sigma is not None else scale)
    newton = None if uncertainties is None else uncertainties.newton_step
    at_edge, named = [], []
    stuck = []  # at an edge, with the minimum inside
    towards_edge = []  # stopped with -ln p falling towards an edge (no Newton step)
    lower_inside = lower_inside or {}
    # Without a Newton step (a Hessian that is not positive definite, far from the
    # minimum), a stop whose gradient falls steeply towards an edge: -ln p changes by more
    # than 1 over a scale's step.
    slope = (uncertainties.gradient if status != 0 and newton is None
             and uncertainties is not None else None)
    for i, name in enumerate(names):
        unit = units.get(name, "")
        # the edge -ln p falls steeply towards, if any
        steep = (slope is not None and np.isfinite(slope[i])
                 and abs(slope[i]) * scale[i] > 1.0)
        towards = ("lower" if slope[i] > 0 else "upper") if steep else None
        for edge in edges[i]:
            distance = abs(x[i] - edge.value)
            # A stop short of the edge with the minimum beyond it (the line search backed
            # off from the edge, where -ln p is +inf) is the same failure, seen earlier.
            beyond = (status != 0 and newton is not None
                      and (x[i] + newton[i] < edge.value if edge.side == "lower"
                           else x[i] + newton[i] > edge.value))
            falling = edge.side == towards
            if distance <= EDGE_TOLERANCE * sigma[i] and name in lower_inside:
                inside, decrease = lower_inside[name]
                stuck.append(f"{name} = {_show(x[i], unit)} is at the {edge.side} edge of its "
                             f"{edge.what}, but -ln p is {decrease:.4g} lower "
                             f"{_show(inside, unit)} inside it")
            elif distance <= EDGE_TOLERANCE * sigma[i]:
                at_edge.append(f"{name} = {_show(x[i], unit)} is at the {edge.side} edge "
                               f"of its {edge.what}")
            elif beyond:
                at_edge.append(f"{name} = {_show(x[i], unit)} stopped "
                               f"{_show(distance, unit)} from the {edge.side} edge of its "
                               f"{edge.what}, with the minimum beyond it")
            elif falling:
                towards_edge.append(f"{name} = {_show(x[i], unit)} stopped "
                                    f"{_show(distance, unit)} from the {edge.side} edge of "
                                    f"its {edge.what}, with -ln p falling steeply towards "
                                    "it")
            else:
                continue
            named.append(name)
            break
    if stuck:
        return Diagnosis(NOT_CONVERGED, "; ".join(stuck) + " (the minimum is inside, and the "
                         "fit did not leave the edge: a start on an edge can hold it there, "
                         "where -ln p has no slope along it, a model symmetric about the edge, "
                         "or where the start's scale was a fallback; start inside the bounds)",
                         named)
    if at_edge:
        return Diagnosis(NOT_CONVERGED, "; ".join(at_edge) + " (the minimum of -ln p lies "
                         "on or beyond that edge: move the edge, or fix the parameter)",
                         named)
    if towards_edge:
        return Diagnosis(NOT_CONVERGED, "; ".join(towards_edge) + " (the Hessian there is "
                         "not positive definite: the minimum may lie beyond that edge, so "
                         "move the edge or fix the parameter, or the fit stopped far from "
                         "it)", named)
    if status == 99:
        return Diagnosis(NOT_CONVERGED, "the callback stopped the fit", [])
    if uncertainties is not None and uncertainties.unresolved is not None:
        involved = unresolved_parameters(uncertainties, names)
        if len(involved) == 1:
            return Diagnosis(NOT_CONVERGED, "-ln p is flat, within the rounding of its "
                             f"second differences, in {involved[0]}: the data do not "
                             "constrain it (fix it, or give it a prior)", involved)
        return Diagnosis(NOT_CONVERGED, "-ln p is flat, within the rounding of its "
                         f"second differences, along a combination of {', '.join(involved)}"
                         ": the data may constrain only that combination (fix one, or give "
                         "it a prior; for an offset and a slope, centre the times)", involved)
    if uncertainties is not None and not uncertainties.positive_definite:
        return Diagnosis(NOT_CONVERGED, "the Hessian of -ln p is not positive definite: the "
                         "solution is not a minimum (or the model is too noisy at the "
                         "Hessian's steps)", [])
    step_in_sigma = None if newton is None else np.abs(newton) / sigma
    away = "" if step_in_sigma is None else (
        f"the minimum is {float(step_in_sigma.max()):.2g} σ away in "
        f"{names[int(np.argmax(step_in_sigma))]}")
    near = step_in_sigma is not None and bool(np.all(step_in_sigma < NOISE_STEP))
    far = [] if step_in_sigma is None else [
        names[i] for i in np.flatnonzero(step_in_sigma >= NOISE_STEP)]
    if status == 0:
        if step_in_sigma is not None and not near:
            return Diagnosis(NOT_CONVERGED, f"the scaled gradient {gnorm:.3g} is below gtol "
                             f"{gtol:g}, but by the Hessian {away} (correlated parameters "
                             "leave a small gradient far from the minimum): lower gtol", far)
        return Diagnosis(CONVERGED, f"the scaled gradient {gnorm:.3g} is below gtol {gtol:g}"
                         + ("" if step_in_sigma is None else
                            f" and the minimum is within {float(step_in_sigma.max()):.2g} σ"),
                         [])
    if status == 1:
        return Diagnosis(NOT_CONVERGED, f"the iteration limit maxiter = {maxiter} was "
                         "reached" + (f"; {away}" if away else ""), far)
    # status 2: precision loss
    if step_in_sigma is None:
        why = uncertainties_skipped or "uncertainties are switched off"
        return Diagnosis(NOT_CONVERGED, "precision loss (the line search could not go on) "
                         f"and no Hessian to tell whether that is within the noise ({why})",
                         [])
    if near:
        return Diagnosis(WITHIN_NOISE, "precision loss at a minimum: the Hessian is positive "
                         "definite and the Newton step is below "
                         f"{NOISE_STEP:g} σ in every parameter (at most "
                         f"{float(step_in_sigma.max()):.2g} σ)", [])
    return Diagnosis(NOT_CONVERGED, "precision loss (the line search could not go on) "
                     f"short of the minimum: {away}", far)
