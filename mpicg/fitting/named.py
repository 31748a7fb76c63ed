"""Named fits with PHOEBE's ``optimizer.cg`` options, on top of the collective fit.

:func:`optimizer_cg` takes a model with named parameters (:mod:`.parameters`), the data,
and the options PHOEBE users know — ``fit_parameters``, ``initial_values``, ``priors``,
``priors_combine``, ``expose_lnprobabilities``, ``continue_from``, ``maxiter``, ``gtol``,
``norm`` — plus scipy's ``c1``, ``c2`` and per-parameter finite-difference steps, and returns
a :class:`~.solution.Solution`. The objective is ``-ln p = -(ln prior + ln L)``, with
``-ln L = 1/2 chi^2``; outside a prior's support or a parameter's domain it is ``+inf`` and
the line search backs off. CG runs on scaled variables (:mod:`.scaling`); the solution
carries the uncertainties at the optimum (:mod:`.uncertainties`) and a diagnosis
(:mod:`.diagnosis`); rank 0's work around the CG run is :mod:`._session`'s.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..optimize import DEFAULT_C1, DEFAULT_C2, FiniteDifference, check_maxiter
from ..parallel import warn_on_root
from ._collective import collective_cg, with_statistics
from ._session import NamedSession, bounds_and_edges
from .parameters import ParameterizedModel, check_parameter_names
from .priors import Priors
from .problem import Problem
from .scaling import check_scale, prior_width
from .solution import Solution, load_solution
from .steps import Step, check_fd_scheme, check_steps, steps_in_units
from .uncertainties import uncertainties_note

__all__ = ["FitVectorModel", "NamedFit", "NamedProblem", "check_domains", "named_fit",
           "optimizer_cg"]

#: ``maxiter`` of a fresh named fit unless given: PHOEBE's default.
DEFAULT_MAXITER = 1_000_000

@dataclass(frozen=True)
class FitVectorModel:
    """The model seen as a function of the fitted parameters only (picklable)."""

    model: ParameterizedModel
    template: np.ndarray  # every parameter's value; the fitted ones are overwritten
    index: np.ndarray  # positions of the fitted parameters in the template

    def __call__(self, x: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Flux at ``times`` with the fitted parameters set to ``x``."""
        values = self.template.copy()
        values[self.index] = x
        return self.model(values, times)


class NamedProblem(Problem):
    """A light curve and a named model: ``-ln p = 1/2 chi^2 - ln prior(x)``.

    The prior term is added once per point on rank 0 (:meth:`value_from_total`); the
    chi-square is the usual sum over observations, shared among ranks.
    """

    def __init__(self, model: ParameterizedModel, times, flux, sigma,
                 fit_parameters: list[str], values: dict[str, float],
                 priors: Priors | None = None, block_size: int | None = None):
        names = list(model.parameter_names)
        template = np.array([float(values[n]) for n in names])
        index = np.array([names.index(n) for n in fit_parameters], dtype=np.int64)
        super().__init__(FitVectorModel(model, template, index), times, flux, sigma,
                         block_size=block_size)
        self.fit_parameters = list(fit_parameters)
        self.priors = priors
        domains = model.domains
        self.domains = [domains[n] for n in fit_parameters]

    def digest(self) -> str:
        """The data's digest, with the fitted parameters, fixed values and priors."""
        extra = json.dumps({"fit": self.fit_parameters,
                            "template": [float(v).hex() for v in self.model.template],
                            "priors": None if self.priors is None else self.priors.to_dict()},
                           sort_keys=True, default=repr)
        return hashlib.sha256((super().digest() + extra).encode()).hexdigest()

    def in_domain(self, x: np.ndarray) -> bool:
        """Whether every fitted value lies in its parameter's domain."""
        return all(d.contains(v) for d, v in zip(self.domains, x, strict=True))

    def log_prior(self, x: np.ndarray) -> float:
        """The log prior at the fitted values ``x`` (0 without priors; -inf outside support)."""
        if self.priors is None:
            return 0.0
        return float(self.priors.log_prior(dict(zip(self.fit_parameters, x, strict=True))))

    def why_infinite(self, x: np.ndarray) -> str:
        """Outside a domain or a prior's support (the model is not called there), or not."""
        if not self.in_domain(x):
            return "x lies outside a fitted parameter's domain"
        if self.priors is not None and self.log_prior(x) == -math.inf:
            return "x lies outside a prior's support"
        return super().why_infinite(x)

    def item_terms(self, x: np.ndarray, first: int, last: int) -> np.ndarray:
        """Chi-square terms; ``+inf``, without calling the model, outside a domain or prior.

        The line search may try a point there (``sbratio < 0``, a radius <= 0, beyond a
        prior's bound), and the model must not be asked. Every rank holds the domains and
        priors, so every rank skips the same points.
        """
        if not self.in_domain(x) or (self.priors is not None
                                     and self.log_prior(x) == -math.inf):
            return np.full(last - first, np.inf)
        return super().item_terms(x, first, last)

    def value_from_total(self, total: np.ndarray, points: np.ndarray) -> np.ndarray:
        """``1/2 chi^2 - ln prior`` for each point."""
        chi2_half = self.scale * total
        if self.priors is None:
            return chi2_half
        return chi2_half - np.array([self.log_prior(x) for x in points])


def optimizer_cg(model: ParameterizedModel, times, flux, sigma, *,
                 fit_parameters=None, initial_values: dict | None = None, priors=None,
                 priors_combine: str = "and", steps: dict | None = None,
                 fd_scheme: str = "forward", scale="auto", uncertainties: bool = True,
                 expose_lnprobabilities: bool = False, continue_from=None,
                 maxiter: int | None = None, gtol: float = 1e-5, norm: float = np.inf,
                 c1: float = DEFAULT_C1, c2: float = DEFAULT_C2,
                 callback: Callable | None = None, block_size: int | None = None,
                 disp: bool = False, progress_every_niters: int = 0, progress_file=None,
                 resume=None, sharing: str = "auto", comm=None) -> Solution:
    """Fit named parameters of a model to a light curve (PHOEBE's ``optimizer.cg``).

    A collective call under MPI: every rank calls it with the same arguments (and its own
    copy of the data); every rank returns the same solution. An error in the arguments or
    the data is raised on every rank, at the start (rank 0 reports it; see
    :mod:`mpicg.errors`).

    Parameters
    ----------
    model : ParameterizedModel
        The forward model, with named parameters (defaults, units).
    times, flux, sigma : array_like
        The light curve and its 1-sigma uncertainties.
    fit_parameters : list of str
        The parameters to vary; the others stay at their values. Ignored (with a warning)
        when ``continue_from`` is given, as in PHOEBE.
    initial_values : dict, optional
        Name -> value overrides of the model's defaults. Names of parameters that are not
        fitted are ignored with a warning (their values stay the defaults, as in PHOEBE).
    priors : dict or list, optional
        ``{name: distribution or [distributions]}`` or ``[(name, distribution), ...]`` with
        the distributions of :mod:`mpicg.priors`.
    priors_combine : {'and', 'or', 'first'}
        How several distributions on one parameter combine (PHOEBE's meanings).
    steps : dict, optional
        Name -> :class:`Step` (or a float: an absolute step) for the finite differences,
        in the parameter's unit (with scaling, a relative step is relative to the start
        value). Default: 1e-4 of the parameter's scale ``s`` (about σ) for forward
        differences, 0.1 ``s`` for central ones, and 0.5 ``s`` for a model that declares
        itself noisy (:attr:`ParameterizedModel.noisy`: PHOEBE's mesh), whose jitter the
        steps must rise above (use central differences there); with ``scale="none"``,
        scipy's absolute ``sqrt(machine eps)``.
    fd_scheme : {'forward', 'central'}
        Forward (n model evaluations per gradient) or central (2n) differences.
    scale : 'auto', 'none', float or dict
        How CG's variables ``u = (x - x0) / s`` are scaled, for all parameters or per
        name (:mod:`mpicg.fitting.scaling`): ``'auto'`` (the default) ``s`` about the σ at
        the start, from the curvature of -ln p there (one batch of 2n + 1 evaluations, two
        or three if a step was far off); a number: ``s`` in the parameter's unit;
        ``'none'``: no scaling (PHOEBE's and scipy's semantics). ``gtol`` bounds the
        gradient in ``u``: a component ``g`` is about ``g`` σ from the minimum.
    uncertainties : bool
        Compute the covariance at the solution from a finite-difference Hessian (2n^2 + 1
        evaluations, once or twice, counted apart in ``nfev_uncertainties``); it also
        tells whether a precision-loss stop is within the noise (``diagnosis``).
    expose_lnprobabilities : bool
        Put the initial and final ln p in the solution (taken from evaluations the fit
        makes anyway: no extra model calls).
    continue_from : Solution, str or path, optional
        Start each parameter of an earlier solution at its fitted value (its
        ``fit_parameters`` and fixed values are used).
    maxiter, gtol, norm, c1, c2 : optional
        As in PHOEBE / scipy (``maxiter`` defaults to PHOEBE's 1e6, or, when resuming, to
        the progress file's: give it to go on longer; ``gtol`` defaults to 1e-5).
        With scaling, ``gtol`` bounds the gradient in the scaled variables: about
        ``gtol`` σ from the minimum per parameter (more along a strongly correlated pair's
        degenerate direction; the diagnosis measures that distance).
    callback : callable, optional
        Called on rank 0 after each iteration, as in :func:`mpicg.minimize`, with the
        parameters in their own units (not the scaled variables).
    block_size : int, optional
        Observations per block (see :class:`mpicg.Problem`).
    disp : bool
        Print scipy's summary on rank 0.
    progress_every_niters, progress_file, resume : optional
        Progress files and exact resume, as in :func:`mpicg.fit` (a batch system's signal
        writes one too). Resume with the same model, data and named options; the progress
        file's CG and step options are used (and recorded in the solution's options).
    sharing : {'auto', 'blocks', 'points'}, optional
        Who computes what (see :func:`mpicg.fit`); the result is the same to the bit.
    comm : mpi4py communicator, optional
        The ranks to use (default: the MPI world under mpirun; else serial).

    Returns
    -------
    Solution
        Fitted values with units, uncertainties, correlations, the diagnosis, status,
        counts, timing, and the options the fit used.

    Raises
    ------
    InputError
        Unknown parameter names, a prior on a parameter that does not exist, a start
        outside a prior's support or a value outside a parameter's domain, a non-finite
        objective at the start, bad steps or scales, bad data; raised on every rank (rank
        0 reports it).
    """
    setup, local_error = None, None
    try:
        setup = named_fit(model, times, flux, sigma, fit_parameters=fit_parameters,
                          initial_values=initial_values, priors=priors,
                          priors_combine=priors_combine, steps=steps, fd_scheme=fd_scheme,
                          scale=scale, uncertainties=uncertainties,
                          continue_from=continue_from, block_size=block_size,
                          warn_stacklevel=3, comm=comm)
        if maxiter is not None:  # (checked again with the other options; here for its text)
            check_maxiter(maxiter, 1, default_text="None for PHOEBE's 1e6")
        if not isinstance(expose_lnprobabilities, bool | np.bool_):
            raise InputError(f"`expose_lnprobabilities` must be True or False; got "
                             f"{expose_lnprobabilities!r:.60}")
    except Exception as e:  # every rank raises it, together, at the start
        local_error = e
    if maxiter is None and resume is None:
        maxiter = DEFAULT_MAXITER
    session = None
    if setup is not None:
        session = NamedSession(
            names=list(setup.fit_parameters), x0=setup.x0, scale=setup.scales,
            steps=setup.steps, fd_scheme=fd_scheme, lower=setup.lower, upper=setup.upper,
            edges=setup.edges, widths=setup.widths, units=model.units,
            noisy=bool(getattr(model, "noisy", False)), uncertainties=uncertainties,
            gtol=gtol, norm=norm, maxiter=maxiter)
    res = with_statistics(collective_cg(
        None if setup is None else setup.problem, None if setup is None else setup.x0,
        jac=FiniteDifference(fd_scheme),
        callback=None if session is None else session.wrap_callback(callback),
        gtol=gtol, norm=norm, maxiter=maxiter, c1=c1, c2=c2, disp=disp,
        names=("problem", "jac", "steps"), require_problem=True, require_finite_start=True,
        progress_every_niters=progress_every_niters, progress_file=progress_file,
        resume=resume, sharing=sharing, comm=comm, session=session, local_error=local_error))
    used = res.options
    options = {"fit_parameters": setup.fit_parameters,
               "initial_values": dict(initial_values or {}),
               "priors": setup.priors.to_dict() if setup.priors is not None else None,
               "priors_combine": priors_combine,
               "steps": {n: {"size": float(s.size), "kind": s.kind}
                         for n, s in setup.steps.items()},
               "fd_scheme": fd_scheme, "scale": setup.scales, "uncertainties": uncertainties,
               "expose_lnprobabilities": expose_lnprobabilities,
               "continue_from": None if continue_from is None else str(
                   continue_from if not isinstance(continue_from, Solution) else "Solution"),
               **{k: used[k] for k in ("maxiter", "gtol", "norm", "c1", "c2")}}
    if resume is not None:  # what the resumed fit used: the progress file's options
        options.update(fd_scheme=used["fd"]["method"], resumed_from=str(resume),
                       steps=steps_in_units(setup.fit_parameters, used["fd"],
                                         res.scaling.scale))
    return _solution(model, model.parameter_names, setup.fit_parameters, setup.values,
                     setup.x0, res, options, expose_lnprobabilities)


@dataclass(frozen=True)
class NamedFit:
    """A named fit, set up and checked on this process: what :func:`optimizer_cg` runs.

    Attributes
    ----------
    problem : NamedProblem
        The objective.
    x0 : ndarray
        The start, one value per fitted parameter, in their units.
    fit_parameters : list of str
        The fitted parameters, in order.
    values : dict
        Every parameter's value at the start.
    priors : Priors or None
        The priors.
    steps : dict
        Name -> the :class:`Step` the user gave (the others: the default).
    scales : dict
        Name -> ``"auto"``, ``"none"`` or a number (checked).
    lower, upper : ndarray
        Each fitted parameter's closed bounds (domain and prior support).
    edges : list
        Each fitted parameter's finite bounds, for the diagnosis.
    widths : list
        Each fitted parameter's prior width, or None.
    """

    problem: NamedProblem
    x0: np.ndarray
    fit_parameters: list[str]
    values: dict[str, float]
    priors: Priors | None
    steps: dict[str, Step]
    scales: dict
    lower: np.ndarray
    upper: np.ndarray
    edges: list
    widths: list


def named_fit(model: ParameterizedModel, times, flux, sigma, *, fit_parameters=None,
              initial_values: dict | None = None, priors=None, priors_combine: str = "and",
              steps: dict | None = None, fd_scheme: str = "forward", scale="auto",
              uncertainties: bool = True, continue_from=None, block_size: int | None = None,
              warn_stacklevel: int = 2, comm=None) -> NamedFit:
    """Set up and check a named fit on this process (no MPI; nothing is evaluated).

    Everything :func:`optimizer_cg` checks before its first evaluation: the model, names,
    ``continue_from``, initial values, priors (and the start inside their support), domains,
    steps, scales, data. The ``mpicg`` command calls it before it touches an output
    directory.

    Parameters
    ----------
    model, times, flux, sigma, fit_parameters, initial_values, priors, priors_combine, steps,
    fd_scheme, scale, uncertainties, continue_from, block_size
        As in :func:`optimizer_cg`.
    warn_stacklevel : int
        Where warnings point (2: the caller of this function).
    comm : mpi4py communicator, optional
        The fit's ranks: warnings come from its rank 0 (default: the launch's).

    Returns
    -------
    NamedFit

    Raises
    ------
    InputError
        Naming the argument and the value.
    """
    if not isinstance(model, ParameterizedModel):
        raise InputError(f"`model` must be an mpicg.ParameterizedModel "
                         f"(named parameters); got {type(model).__name__}")
    names = model.parameter_names
    values = model.defaults
    if continue_from is not None:
        if not isinstance(continue_from, str | os.PathLike | Solution | dict):
            raise InputError(f"`continue_from` must be a Solution or the path of a saved one; "
                             f"got {type(continue_from).__name__} {continue_from!r:.60}")
        previous = load_solution(continue_from)
        if fit_parameters is not None and list(fit_parameters) != previous.fit_parameters:
            warn_on_root("`fit_parameters` is ignored with `continue_from` (as in "
                         "PHOEBE): the earlier solution's parameters are fitted",
                         stacklevel=warn_stacklevel, comm=comm)
        fit_parameters = previous.fit_parameters
        check_parameter_names(fit_parameters, names, "continue_from's fit_parameters")
        values.update({k: v for k, v in previous.fixed_values.items() if k in values})
        values.update(previous.fitted_values)
    else:
        if fit_parameters is None or len(list(fit_parameters)) == 0:
            raise InputError("`fit_parameters` must name at least one parameter of "
                             f"the model {list(names)}")
        fit_parameters = check_parameter_names(fit_parameters, names)
    for name, value in _mapping(initial_values, "initial_values").items():
        check_parameter_names([name], names, "initial_values")
        if continue_from is not None or name not in fit_parameters:
            why = ("continue_from sets the start" if continue_from is not None
                   else f"'{name}' is not fitted")
            warn_on_root(f"initial_values['{name}'] is ignored: {why}",
                         stacklevel=warn_stacklevel, comm=comm)
            continue
        values[name] = _start_value(name, value)
    prior_set = None
    if priors:
        prior_set = Priors(priors, priors_combine=priors_combine)
        prior_set.check_names(names)
        unfitted = [n for n in prior_set.names if n not in fit_parameters]
        if unfitted:
            raise InputError(f"`priors` are given on {unfitted}, which are not in "
                             f"fit_parameters {fit_parameters}")
        prior_set.check_start({n: values[n] for n in fit_parameters})
    check_domains(model, values, fit_parameters)
    given_steps = check_steps(_mapping(steps, "steps"), fit_parameters)
    check_fd_scheme(fd_scheme)
    scales = check_scale(scale, fit_parameters)
    if not isinstance(uncertainties, bool):
        raise InputError(f"`uncertainties` must be True or False; got {uncertainties!r}")
    lower, upper, edges = bounds_and_edges(fit_parameters, model.domains, prior_set)
    for name, mine in zip(fit_parameters, edges, strict=True):
        on = [edge for edge in mine if values[name] == edge.value]
        if on:
            warn_on_root(f"{name} starts on the {on[0].side} edge of its {on[0].what}: where "
                         "-ln p has no slope along it (a model symmetric about the edge, as a "
                         "transit about an inclination of 90 deg) the fit cannot leave it; "
                         "start inside", stacklevel=warn_stacklevel, comm=comm)
    if getattr(model, "noisy", False) and fd_scheme == "forward":
        warn_on_root("the model is noisy (its output jitters as parameters move): "
                     "forward differences with steps above the jitter are biased by "
                     "about half a step; use fd_scheme='central'",
                     stacklevel=warn_stacklevel, comm=comm)
    problem = NamedProblem(model, times, flux, sigma, fit_parameters, values, prior_set,
                           block_size=block_size)
    widths = [prior_width(prior_set.distribution(n)) if prior_set is not None
              and n in prior_set else None for n in fit_parameters]
    return NamedFit(problem=problem, x0=np.array([values[n] for n in fit_parameters]),
                    fit_parameters=list(fit_parameters), values=values, priors=prior_set,
                    steps=given_steps, scales=scales, lower=lower, upper=upper, edges=edges,
                    widths=widths)


def _mapping(value, name: str) -> dict:
    """``value`` (None: empty) as a dict of parameter names; InputError naming it otherwise."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"`{name}` must be a dict of parameter names; got "
                         f"{type(value).__name__} {value!r:.80}")
    return dict(value)


def _start_value(name: str, value) -> float:
    """``initial_values[name]`` as a float: a real number (a bool or a string is not one)."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()  # (a one-element array, a quantity's value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InputError(f"`initial_values['{name}']` must be a real number; got "
                         f"{type(value).__name__} {value!r:.60}")
    if not math.isfinite(float(value)):
        raise InputError(f"`initial_values['{name}']` must be finite; got {float(value)!r}")
    return float(value)


def check_domains(model: ParameterizedModel, values: dict, fit_parameters) -> None:
    """InputError for a start value or a fixed value outside its parameter's domain."""
    for name, domain in model.domains.items():
        if not domain.contains(values[name]):
            what = "start value" if name in fit_parameters else "value"
            raise InputError(f"{what} {values[name]!r} of parameter {name!r} is outside its "
                             f"domain {domain}")


def _solution(model, names, fit_parameters, values, x0, res, options,
              expose_lnprobabilities) -> Solution:
    """The Solution of a finished named fit (the result in the parameters' units)."""
    lnp = None
    if expose_lnprobabilities:
        lnp = {"initial": -float(res.fun_initial), "final": -float(res.fun)}
    fixed = {n: values[n] for n in names if n not in fit_parameters}
    found = res.uncertainties
    sigma = None if found is None or found.sigma is None else found.sigma
    return Solution(
        fit_parameters=list(fit_parameters),
        initial_values={n: float(v) for n, v in zip(fit_parameters, x0, strict=True)},
        fitted_values={n: float(v) for n, v in zip(fit_parameters, res.x, strict=True)},
        fixed_values=fixed, units=model.units, message=res.message,
        success=bool(res.success), status=int(res.status), nit=int(res.nit),
        nfev=int(res.nfev), njev=int(res.njev), rounds=int(res.rounds),
        wall_time=float(res.wall_time), n_ranks=int(res.n_ranks), fun=float(res.fun),
        lnprobabilities=lnp, options=options, model=repr(model)[:500],
        balance={k: res[k] for k in ("sharing", "imbalance_before", "imbalance_after",
                                     "rebalances")},
        diagnosis=res.diagnosis,
        scales={n: float(v) for n, v in zip(fit_parameters, res.scaling.scale, strict=True)},
        scale_sources=dict(zip(fit_parameters, res.scale_sources, strict=True)),
        uncertainties=None if sigma is None else {
            n: float(v) for n, v in zip(fit_parameters, sigma, strict=True)},
        covariance=None if sigma is None else found.covariance,
        correlation=None if sigma is None else found.correlation,
        nfev_scales=int(res.nfev_scales),
        nfev_uncertainties=int(res.nfev_after),  # (the Hessian's, or an edge's probes)
        uncertainties_note=uncertainties_note(found, fit_parameters,
                                              res.uncertainties_skipped))
