"""Run a saved PHOEBE bundle's ``optimizer.cg`` solver with mpicg, on every MPI rank.

:func:`run_phoebe_solver` is the Python form of ``mpicg phoebe BUNDLE --solver LABEL``: every
rank opens the bundle, reads the solver (:mod:`mpicg.models.phoebe_bundle`) and calls
:func:`~mpicg.fitting.named.optimizer_cg` with what it says, mpicg's own options (steps,
finite-difference scheme, ...) on top. The :class:`~mpicg.fitting.solution.Solution` carries
what PHOEBE needs to read it back (``options['phoebe']``): :func:`phoebe_solution` turns it
into the parameters of a PHOEBE solution, which
:func:`~mpicg.models.phoebe_solution.write_phoebe_solution` saves for ``b.import_solution``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InputError
from ..models.phoebe_adapter import PhoebeLightCurve
from ..models.phoebe_bundle import BundleFit, open_bundle, read_cg_solver
from ..optimize import DEFAULT_C1, DEFAULT_C2
from ..parallel import collective_verdict, is_root
from .named import optimizer_cg
from .solution import Solution

__all__ = ["DEFAULT_SOLUTION_LABEL", "PhoebeFit", "phoebe_solution", "read_phoebe_solver",
           "run_phoebe_solver"]

#: The label PHOEBE's ``run_solver`` gives a solution unless told otherwise.
DEFAULT_SOLUTION_LABEL = "latest"


@dataclass
class PhoebeFit:
    """A bundle's ``optimizer.cg`` solver, read and ready to run (:func:`read_phoebe_solver`).

    Attributes
    ----------
    bundle : BundleFit
        What the solver and the bundle say (:mod:`mpicg.models.phoebe_bundle`).
    model : PhoebeLightCurve
        The forward model (this process's copy of the bundle).
    steps : dict
        mpicg's finite-difference steps, keyed by the solver's fit parameter names.
    scale : str, float or dict
        mpicg's scaling of the fit variables (``optimizer_cg``'s ``scale``), per-parameter
        entries keyed by the solver's fit parameter names.
    """

    bundle: BundleFit
    model: PhoebeLightCurve
    steps: dict
    scale: str | float | dict = "auto"


def read_phoebe_solver(bundle_file: str | os.PathLike, solver: str | None = None, *,
                       dataset: str | None = None, steps: dict | None = None,
                       scale="auto") -> PhoebeFit:
    """Open a saved bundle and read its ``optimizer.cg`` solver (on every rank).

    Parameters
    ----------
    bundle_file, solver, dataset, steps, scale
        As in :func:`run_phoebe_solver`; ``steps`` and a ``scale`` dict may name a fitted
        parameter by any of its twigs.

    Returns
    -------
    PhoebeFit

    Raises
    ------
    InputError
        On every rank (rank 0 reports it; the other ranks raise quiet copies), for a
        bundle, solver, prior, dataset or step mpicg cannot run, naming it.
    """
    error, prepared = None, None
    try:
        b = open_bundle(bundle_file)
        bundle = read_cg_solver(b, solver, bundle_file=bundle_file, dataset=dataset)
        steps = bundle.by_fit_parameter(b, steps, "steps")
        if isinstance(scale, dict):
            scale = bundle.by_fit_parameter(b, scale, "scale")
        del b  # the model opens its own copy of the bundle
        prepared = PhoebeFit(bundle, bundle.model(), steps, scale)
    except Exception as e:  # on some ranks only, maybe: every rank gets the verdict
        error = e
    collective_verdict(error, f"while reading the PHOEBE bundle {str(bundle_file)!r}")
    return prepared


def run_phoebe_solver(bundle_file: str | os.PathLike | PhoebeFit, solver: str | None = None,
                      *,
                      dataset: str | None = None, steps: dict | None = None,
                      fd_scheme: str = "forward", scale="auto", uncertainties: bool = True,
                      c1: float = DEFAULT_C1, c2: float = DEFAULT_C2,
                      block_size: int | None = None,
                      gtol: float | None = None, maxiter: int | None = None,
                      norm: float | None = None, callback: Callable | None = None,
                      disp: bool = False, progress_every_niters: int | None = None,
                      progress_file=None, resume=None, phoebe_progress_file=None,
                      solution_label: str = DEFAULT_SOLUTION_LABEL, comm=None) -> Solution:
    """Fit what a bundle's ``optimizer.cg`` solver describes, with mpicg (collective).

    Every rank calls it with the same arguments; each opens the bundle itself. The solver's
    ``fit_parameters``, ``initial_values``, ``continue_from``, ``priors``,
    ``priors_combine``, ``compute``, ``maxiter``, ``gtol``, ``norm``,
    ``progress_every_niters`` and ``expose_lnprobabilities`` are used as PHOEBE uses them
    (see :mod:`mpicg.models.phoebe_bundle` for the few things mpicg refuses).

    Parameters
    ----------
    bundle_file : path or PhoebeFit
        A bundle saved with ``b.save(...)``, or one :func:`read_phoebe_solver` read (then
        ``solver``, ``dataset``, ``steps`` and ``scale`` are its own).
    solver : str, optional
        The ``optimizer.cg`` solver's label (default: the bundle's only one).
    dataset : str, optional
        The lc dataset (default: the only enabled one with observations).
    steps : dict, optional
        Twig -> :class:`~mpicg.fitting.steps.Step` (or a float: absolute), mpicg's
        finite-difference steps. PHOEBE's own (scipy's ``sqrt(eps)``) lie far below a mesh
        model's discretization noise: give steps of about a tenth to one sigma.
    fd_scheme : {'forward', 'central'}
        Forward or central differences (central suits PHOEBE's jittering mesh).
    scale : 'auto', 'none', float or dict
        mpicg's scaling of the fit variables (:func:`~mpicg.optimizer_cg`): by default
        ``'auto'``, so the solver's ``gtol`` bounds the gradient in units of each
        parameter's σ at the start; ``'none'`` gives PHOEBE's meaning (the gradient in the
        parameters' own units). A dict may name parameters by any of their twigs.
    uncertainties : bool
        The covariance at the solution from a finite-difference Hessian, and the
        convergence diagnosis that uses it (:func:`~mpicg.optimizer_cg`).
    c1, c2 : float
        The strong Wolfe constants.
    block_size : int, optional
        Observations per block (see :class:`mpicg.Problem`).
    gtol, maxiter, norm : optional
        Override the solver's values (None: the solver's).
    callback : callable, optional
        Called on rank 0 after every iteration (``callback(xk)``).
    disp : bool
        Print scipy's summary on rank 0.
    progress_every_niters : int, optional
        Override the solver's ``progress_every_niters`` (None: the solver's).
    progress_file : path, optional
        mpicg's progress file (exact resume), written every ``progress_every_niters``
        iterations.
    resume : path, optional
        Continue from such a progress file.
    phoebe_progress_file : path, optional
        Also write a PHOEBE solution of the current iterate there every
        ``progress_every_niters`` iterations (message ``'running'``), as PHOEBE's own
        ``solution.ps.progress``: ``b.import_solution`` reads it.
    solution_label : str
        The label the PHOEBE solution gets (PHOEBE's default ``'latest'``).
    comm : mpi4py communicator, optional
        The ranks to use.

    Returns
    -------
    Solution
        On every rank; ``options['phoebe']`` holds the bundle, solver, twigs, uniqueids,
        units and the ln p offset (see :func:`phoebe_solution`).

    Raises
    ------
    InputError
        A bundle, solver, prior or dataset mpicg cannot run (naming it), or bad options;
        raised once, on rank 0.
    """
    prepared = bundle_file if isinstance(bundle_file, PhoebeFit) else read_phoebe_solver(
        bundle_file, solver, dataset=dataset, steps=steps, scale=scale)
    bundle, model, steps = prepared.bundle, prepared.model, prepared.steps
    if not isinstance(solution_label, str) or not solution_label:
        collective_verdict(InputError(f"`solution_label` must be a non-empty string; got "
                                      f"{solution_label!r}"), "while checking the options",
                           comm)
    every = bundle.progress_every_niters if progress_every_niters is None \
        else progress_every_niters
    record = {**bundle.phoebe_record(), "solution": solution_label}
    hook = callback
    if phoebe_progress_file is not None and every and is_root():
        start = [bundle.initial_values.get(n, model.defaults[n]) for n in bundle.fit_parameters]
        hook = _progress_writer(record, start, every, phoebe_progress_file, resume, callback)
    solution = optimizer_cg(
        model, bundle.times, bundle.flux, bundle.sigma,
        fit_parameters=bundle.fit_parameters, initial_values=bundle.initial_values,
        priors=bundle.priors or None, priors_combine=bundle.priors_combine, steps=steps,
        fd_scheme=fd_scheme, scale=prepared.scale, uncertainties=uncertainties,
        expose_lnprobabilities=bundle.expose_lnprobabilities,
        maxiter=bundle.maxiter if maxiter is None else maxiter,
        gtol=bundle.gtol if gtol is None else gtol,
        norm=bundle.norm if norm is None else norm, c1=c1, c2=c2, callback=hook,
        block_size=block_size, disp=disp, progress_every_niters=every,
        progress_file=progress_file, resume=resume, comm=comm)
    solution.options["phoebe"] = record
    return solution


def _progress_writer(record: dict, initial: list[float], every: int, path, resume, callback):
    """A rank-0 callback that writes PHOEBE's progress solution every ``every`` iterations."""
    from ..models.phoebe_solution import phoebe_solution_parameters, write_phoebe_solution
    from .checkpoint import load_checkpoint

    done = [load_checkpoint(resume).state.k if resume is not None else 0]  # iterations

    def hook(xk):
        done[0] += 1
        if done[0] % every == 0:
            write_phoebe_solution(path, phoebe_solution_parameters(
                label=record["solution"], solver=record["solver"], compute=record["compute"],
                fitted_twigs=record["fitted_twigs"], fitted_uniqueids=record["fitted_uniqueids"],
                units=record["units"], initial_values=initial, fitted_values=list(xk),
                message="running", niter=done[0], success=False))
        if callback is not None:
            callback(xk)

    return hook


def phoebe_solution(solution: Solution, label: str | None = None) -> list[dict]:
    """The parameters of the PHOEBE solution of a :func:`run_phoebe_solver` fit.

    Parameters
    ----------
    solution : Solution
        From :func:`run_phoebe_solver` (or loaded from its ``solution.json``).
    label : str, optional
        The solution's label in the bundle (default: the one the fit was run with).

    Returns
    -------
    list of dict
        For :func:`~mpicg.models.phoebe_solution.write_phoebe_solution`. ln p (with
        ``expose_lnprobabilities``) is PHOEBE's: mpicg's ``-fun`` plus
        ``-1/2 sum ln(2 pi sigma^2)`` and the constant priors.

    Raises
    ------
    InputError
        The solution did not come from a PHOEBE bundle.
    """
    from ..models.phoebe_solution import phoebe_solution_parameters

    record = solution.options.get("phoebe")
    if not record:
        raise InputError("this solution did not come from a PHOEBE bundle (no "
                         "options['phoebe']); run the bundle with mpicg phoebe")
    lnp = None
    if solution.lnprobabilities is not None:
        offset = record["lnprobability_offset"]
        lnp = (solution.lnprobabilities["initial"] + offset,
               solution.lnprobabilities["final"] + offset)
    names = solution.fit_parameters
    return phoebe_solution_parameters(
        label=label or record["solution"], solver=record["solver"], compute=record["compute"],
        fitted_twigs=record["fitted_twigs"], fitted_uniqueids=record["fitted_uniqueids"],
        units=record["units"], initial_values=[solution.initial_values[n] for n in names],
        fitted_values=[solution.fitted_values[n] for n in names], message=solution.message,
        niter=solution.nit, success=solution.success, lnprobabilities=lnp,
        comments=f"mpicg: {solution.nfev} model evaluations on {solution.n_ranks} rank(s), "
                 f"status {solution.status}")
