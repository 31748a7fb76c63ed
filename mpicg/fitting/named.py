"""Named fits with PHOEBE's ``optimizer.cg`` options, on top of the collective fit.

:func:`optimizer_cg` takes a model with named parameters (:mod:`.parameters`), the data,
and the options PHOEBE users know — ``fit_parameters``, ``initial_values``, ``priors``,
``priors_combine``, ``expose_lnprobabilities``, ``continue_from``, ``maxiter``, ``gtol``,
``norm`` — plus scipy's ``c1``, ``c2`` and per-parameter finite-difference steps, and returns
a :class:`~.solution.Solution`. The objective is ``-ln p = -(ln prior + ln L)``, with
``-ln L = 1/2 chi^2``; outside a prior's support it is ``+inf`` and the line search backs off.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..optimize import DEFAULT_C1, DEFAULT_C2, EPSILON, FiniteDifference
from ._collective import collective_cg, with_statistics
from .parameters import ParameterizedModel, check_parameter_names
from .priors import Priors
from .problem import Problem
from .solution import Solution, load_solution

__all__ = ["FD_SCHEMES", "FitVectorModel", "NamedFit", "NamedProblem", "Step",
           "check_fd_scheme", "named_fit", "optimizer_cg"]

#: ``maxiter`` of a fresh named fit unless given: PHOEBE's default.
DEFAULT_MAXITER = 1_000_000

#: The finite-difference schemes of a named fit.
FD_SCHEMES = ("forward", "central")


def check_fd_scheme(scheme) -> str:
    """``scheme`` if it is one of :data:`FD_SCHEMES`, else InputError naming it."""
    if scheme not in FD_SCHEMES:
        raise InputError(f"`fd_scheme` must be 'forward' or 'central'; got {scheme!r}")
    return scheme


@dataclass(frozen=True)
class Step:
    """A finite-difference step for one parameter.

    Parameters
    ----------
    size : float
        The step, > 0.
    kind : {'absolute', 'relative'}
        Absolute (in the parameter's unit), or relative to the parameter's value.
    """

    size: float
    kind: str = "absolute"

    def __post_init__(self):
        if self.kind not in ("absolute", "relative"):
            raise InputError(f"a Step's `kind` must be 'absolute' or 'relative'; "
                             f"got {self.kind!r}")
        if not (isinstance(self.size, int | float | np.floating) and math.isfinite(self.size)
                and self.size > 0):
            raise InputError(f"a finite-difference step must be a number > 0; "
                             f"got {self.size!r}")


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

    def digest(self) -> str:
        """The data's digest, with the fitted parameters, fixed values and priors."""
        extra = json.dumps({"fit": self.fit_parameters,
                            "template": [float(v).hex() for v in self.model.template],
                            "priors": None if self.priors is None else self.priors.to_dict()},
                           sort_keys=True, default=repr)
        return hashlib.sha256((super().digest() + extra).encode()).hexdigest()

    def log_prior(self, x: np.ndarray) -> float:
        """The log prior at the fitted values ``x`` (0 without priors; -inf outside support)."""
        if self.priors is None:
            return 0.0
        return float(self.priors.log_prior(dict(zip(self.fit_parameters, x, strict=True))))

    def item_terms(self, x: np.ndarray, first: int, last: int) -> np.ndarray:
        """Chi-square terms; ``+inf`` without calling the model outside the priors' support.

        Priors are how users keep a fit inside a model's domain (``sbratio >= 0``, radii
        > 0): the line search may try a point there, and the model must not be asked.
        Every rank holds the priors, so every rank skips the same points.
        """
        if self.priors is not None and self.log_prior(x) == -math.inf:
            return np.full(last - first, np.inf)
        return super().item_terms(x, first, last)

    def value_from_total(self, total: np.ndarray, points: np.ndarray) -> np.ndarray:
        """``1/2 chi^2 - ln prior`` for each point."""
        chi2_half = self.scale * total
        if self.priors is None:
            return chi2_half
        return chi2_half - np.array([self.log_prior(x) for x in points])


def _steps(steps: dict | None, fit_parameters: list[str], scheme: str):
    """Resolve the per-parameter finite-difference steps.

    Returns the absolute and relative step arrays (NaN where the other kind applies; None
    for the relative one when no step is relative) and each fitted parameter's :class:`Step`.
    """
    check_fd_scheme(scheme)
    steps = dict(steps or {})
    unknown = [k for k in steps if k not in fit_parameters]
    if unknown:
        raise InputError(f"`steps` names {unknown}, which are not in fit_parameters "
                         f"{fit_parameters}")
    resolved = {}
    for name in fit_parameters:
        step = steps.get(name, Step(EPSILON))
        if not isinstance(step, Step):
            try:
                step = Step(step)
            except InputError as e:
                raise InputError(f"`steps['{name}']`: {e}") from None
        resolved[name] = step
    absolute = np.array([s.size if s.kind == "absolute" else np.nan for s in resolved.values()])
    relative = np.array([s.size if s.kind == "relative" else np.nan for s in resolved.values()])
    return absolute, (relative if np.isfinite(relative).any() else None), resolved


@dataclass(frozen=True)
class NamedFit:
    """A named fit, set up and checked: what :func:`optimizer_cg` runs.

    Attributes
    ----------
    problem : NamedProblem
        The objective.
    x0 : ndarray
        The start, one value per fitted parameter.
    rule : FiniteDifference
        The gradient's finite-difference rule.
    fit_parameters : list of str
        The fitted parameters, in order.
    values : dict
        Every parameter's value at the start.
    priors : Priors or None
        The priors.
    steps : dict
        Name -> the :class:`Step` of each fitted parameter.
    """

    problem: NamedProblem
    x0: np.ndarray
    rule: FiniteDifference
    fit_parameters: list[str]
    values: dict[str, float]
    priors: Priors | None
    steps: dict[str, Step]


def named_fit(model: ParameterizedModel, times, flux, sigma, *, fit_parameters=None,
              initial_values: dict | None = None, priors=None, priors_combine: str = "and",
              steps: dict | None = None, fd_scheme: str = "forward", continue_from=None,
              block_size: int | None = None, warn_stacklevel: int = 2) -> NamedFit:
    """Set up and check a named fit on this process (no MPI; nothing is evaluated).

    Everything :func:`optimizer_cg` checks before its first evaluation: the model, names,
    ``continue_from``, initial values, priors (and the start inside their support), steps,
    data. The ``mpicg`` command calls it before it touches an output directory.

    Parameters
    ----------
    model, times, flux, sigma, fit_parameters, initial_values, priors, priors_combine, steps,
    fd_scheme, continue_from, block_size
        As in :func:`optimizer_cg`.

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
        previous = load_solution(continue_from)
        if fit_parameters is not None and list(fit_parameters) != previous.fit_parameters:
            warnings.warn("`fit_parameters` is ignored with `continue_from` (as in "
                          "PHOEBE): the earlier solution's parameters are fitted",
                          stacklevel=warn_stacklevel)
        fit_parameters = previous.fit_parameters
        check_parameter_names(fit_parameters, names, "continue_from's fit_parameters")
        values.update({k: v for k, v in previous.fixed_values.items() if k in values})
        values.update(previous.fitted_values)
    else:
        if fit_parameters is None or len(list(fit_parameters)) == 0:
            raise InputError("`fit_parameters` must name at least one parameter of "
                             f"the model {list(names)}")
        fit_parameters = check_parameter_names(fit_parameters, names)
    for name, value in (initial_values or {}).items():
        check_parameter_names([name], names, "initial_values")
        if continue_from is not None or name not in fit_parameters:
            warnings.warn(f"initial_values['{name}'] is ignored: '{name}' is not "
                          "fitted" + (" (continue_from sets the start)"
                                      if continue_from is not None else ""),
                          stacklevel=warn_stacklevel)
            continue
        values[name] = float(value)
    prior_set = None
    if priors:
        prior_set = Priors(priors, priors_combine=priors_combine)
        prior_set.check_names(names)
        unfitted = [n for n in prior_set.names if n not in fit_parameters]
        if unfitted:
            raise InputError(f"`priors` are given on {unfitted}, which are not in "
                             f"fit_parameters {fit_parameters}")
        prior_set.check_start({n: values[n] for n in fit_parameters})
    absolute, relative, resolved_steps = _steps(steps, fit_parameters, fd_scheme)
    problem = NamedProblem(model, times, flux, sigma, fit_parameters, values, prior_set,
                           block_size=block_size)
    return NamedFit(problem=problem, x0=np.array([values[n] for n in fit_parameters]),
                    rule=FiniteDifference(fd_scheme, abs_step=absolute, rel_step=relative),
                    fit_parameters=list(fit_parameters), values=values, priors=prior_set,
                    steps=resolved_steps)


def _used_steps(fit_parameters: list[str], fd: dict) -> dict:
    """A resumed fit's steps, from its progress file's finite-difference options."""
    absolute, relative = fd["abs_step"], fd["rel_step"]
    steps = {}
    for i, name in enumerate(fit_parameters):
        if absolute is not None and not np.isnan(absolute[i]):
            steps[name] = {"size": float(absolute[i]), "kind": "absolute"}
        else:
            steps[name] = {"size": float(relative[i]), "kind": "relative"}
    return steps


def optimizer_cg(model: ParameterizedModel, times, flux, sigma, *,
                 fit_parameters=None, initial_values: dict | None = None, priors=None,
                 priors_combine: str = "and", steps: dict | None = None,
                 fd_scheme: str = "forward", expose_lnprobabilities: bool = False,
                 continue_from=None, maxiter: int | None = None, gtol: float = 1e-5,
                 norm: float = np.inf, c1: float = DEFAULT_C1, c2: float = DEFAULT_C2,
                 callback: Callable | None = None, block_size: int | None = None,
                 disp: bool = False, progress_every_niters: int = 0, progress_file=None,
                 resume=None, comm=None) -> Solution:
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
        Name -> :class:`Step` (or a float: an absolute step) for the finite differences.
        Mesh-based models need steps well above their discretization noise. Default:
        scipy's absolute ``sqrt(machine eps)``.
    fd_scheme : {'forward', 'central'}
        Forward (n model evaluations per gradient) or central (2n) differences.
    expose_lnprobabilities : bool
        Put the initial and final ln p in the solution (taken from evaluations the fit
        makes anyway: no extra model calls).
    continue_from : Solution, str or path, optional
        Start each parameter of an earlier solution at its fitted value (its
        ``fit_parameters`` and fixed values are used).
    maxiter : int, optional
        At most this many iterations; default PHOEBE's 1e6, or, when resuming, the progress
        file's (give it to go on longer than the interrupted fit would have).
    gtol, norm, c1, c2 : optional
        As in PHOEBE / scipy.
    callback : callable, optional
        Called on rank 0 after each iteration, as in :func:`mpicg.minimize`.
    block_size : int, optional
        Observations per block (see :class:`mpicg.Problem`).
    disp : bool
        Print scipy's summary on rank 0.
    progress_every_niters, progress_file, resume : optional
        Progress files and exact resume, as in :func:`mpicg.fit` (a batch system's signal
        writes one too). Resume with the same model, data and named options; the progress
        file's CG and step options are used (and recorded in the solution).
    comm : mpi4py communicator, optional
        The ranks to use (default: the MPI world under mpirun; else serial).

    Returns
    -------
    Solution
        Fitted values with units, status, counts, timing, and the options the fit used.

    Raises
    ------
    InputError
        Unknown parameter names, a prior on a parameter that does not exist, a start
        outside a prior's support, a non-finite objective at the start, bad steps, bad data;
        raised on every rank (rank 0 reports it).
    """
    setup, local_error = None, None
    try:
        setup = named_fit(model, times, flux, sigma, fit_parameters=fit_parameters,
                          initial_values=initial_values, priors=priors,
                          priors_combine=priors_combine, steps=steps, fd_scheme=fd_scheme,
                          continue_from=continue_from, block_size=block_size,
                          warn_stacklevel=3)
    except Exception as e:
        local_error = e
    if maxiter is None and resume is None:
        maxiter = DEFAULT_MAXITER
    res = with_statistics(collective_cg(
        None if setup is None else setup.problem, None if setup is None else setup.x0,
        jac=None if setup is None else setup.rule, callback=callback, gtol=gtol, norm=norm,
        maxiter=maxiter, c1=c1, c2=c2, disp=disp, names=("problem", "jac", "steps"),
        require_problem=True, require_finite_start=True,
        progress_every_niters=progress_every_niters, progress_file=progress_file,
        resume=resume, comm=comm, local_error=local_error))
    used = res.options
    options = {"fit_parameters": setup.fit_parameters,
               "initial_values": dict(initial_values or {}),
               "priors": setup.priors.to_dict() if setup.priors is not None else None,
               "priors_combine": priors_combine,
               "steps": {n: {"size": float(s.size), "kind": s.kind}
                         for n, s in setup.steps.items()},
               "fd_scheme": fd_scheme, "expose_lnprobabilities": expose_lnprobabilities,
               "continue_from": None if continue_from is None else str(
                   continue_from if not isinstance(continue_from, Solution) else "Solution"),
               **{k: used[k] for k in ("maxiter", "gtol", "norm", "c1", "c2")}}
    if resume is not None:  # what the resumed fit used: the progress file's options
        options.update(fd_scheme=used["fd"]["method"],
                       steps=_used_steps(setup.fit_parameters, used["fd"]),
                       resumed_from=str(resume))
    lnp = None
    if expose_lnprobabilities:
        lnp = {"initial": -float(res.fun_initial), "final": -float(res.fun)}
    fixed = {n: setup.values[n] for n in model.parameter_names
             if n not in setup.fit_parameters}
    return Solution(
        fit_parameters=list(setup.fit_parameters),
        initial_values={n: float(v) for n, v in zip(setup.fit_parameters, setup.x0,
                                                    strict=True)},
        fitted_values={n: float(v) for n, v in zip(setup.fit_parameters, res.x, strict=True)},
        fixed_values=fixed, units=model.units, message=res.message,
        success=bool(res.success), status=int(res.status), nit=int(res.nit),
        nfev=int(res.nfev), njev=int(res.njev), rounds=int(res.rounds),
        wall_time=float(res.wall_time), n_ranks=int(res.n_ranks), fun=float(res.fun),
        lnprobabilities=lnp, options=options, model=repr(model)[:500])
