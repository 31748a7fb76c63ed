"""A saved PHOEBE bundle's ``optimizer.cg`` solver, read as the arguments of an mpicg fit.

PHOEBE users keep everything about a fit in the bundle: the light curve (an ``lc`` dataset
with ``times``, ``fluxes``, ``sigmas``), the compute options, the priors (distributions
attached with ``b.add_distribution``) and the solver (``b.add_solver('optimizer.cg', ...)``).
:func:`read_cg_solver` reads all of it from an open bundle into a :class:`BundleFit`, whose
fields are :func:`mpicg.optimizer_cg`'s arguments, with the meanings PHOEBE 2.5 gives them
(``phoebe/solverbackends/solverbackends.py``, ``_ScipyOptimizeBaseBackend``):

``fit_parameters``
    twigs (wildcards expanded as PHOEBE expands them); each names one free float parameter.
``initial_values``
    twig -> value overrides of the bundle's face values (quantities are converted to the
    parameter's default unit); twigs not in ``fit_parameters`` are ignored.
``continue_from``
    a solution in the bundle: its ``fitted_twigs`` are fitted, from its ``fitted_values``.
``priors``, ``priors_combine``
    distribution labels; every distribution under them on a fitted parameter becomes an
    mpicg prior (:func:`~.phoebe_priors.prior_from_distl`), combined per parameter by
    ``priors_combine``.
``compute``, ``maxiter``, ``gtol``, ``norm``, ``progress_every_niters``,
``expose_lnprobabilities``
    as the solver's parameters say.

What mpicg does not do as PHOEBE does (each is an :class:`~mpicg.errors.InputError` naming
the cause, never a silent difference): a fit of several datasets, or of an ``rv`` dataset;
``sigmas_lnf`` (a fitted noise term); priors on constrained parameters, multivariate,
histogram, sample or delta distributions. Priors on parameters that are neither fitted nor
constrained are constants; they only shift ln p (:attr:`BundleFit.lnprobability_offset`).
The model is computed at the observation times (PHOEBE's ``solver_times='times'``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fitting.priors import Distribution, combine
from .phoebe_adapter import FIT_CONTEXTS, PhoebeLightCurve, import_phoebe
from .phoebe_priors import bundle_priors

__all__ = ["BundleFile", "BundleFit", "bundle_factory", "open_bundle", "read_cg_solver"]

_SKIP = {"check_default": False, "check_visible": False}


def open_bundle(path: str | os.PathLike):
    """``phoebe.open(path)``, with PHOEBE imported for mpicg (serial, offline).

    Module-level, so that ``functools.partial(open_bundle, path)`` is a picklable bundle
    factory for :class:`~mpicg.models.phoebe_adapter.PhoebeLightCurve`: every rank opens the
    saved bundle itself.

    Raises
    ------
    InputError
        The file does not exist or PHOEBE cannot read it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"PHOEBE bundle {str(path)!r} does not exist")
    phoebe = import_phoebe()
    try:
        return phoebe.open(str(path))
    except Exception as e:  # PHOEBE raises many kinds for a file that is not a bundle
        raise InputError(f"PHOEBE cannot open {str(path)!r} as a bundle: "
                         f"{type(e).__name__}: {e}") from None


@dataclass(frozen=True)
class BundleFile:
    """A bundle factory that opens a saved bundle: picklable, with a repr that names the file.

    Every rank calls it once (:class:`~mpicg.models.phoebe_adapter.PhoebeLightCurve`). Its
    repr is the same in every process and run, as a progress file's fingerprint needs (a
    ``functools.partial`` shows a memory address).
    """

    path: str

    def __call__(self):
        """The bundle, freshly opened (:func:`open_bundle`)."""
        return open_bundle(self.path)


def bundle_factory(path: str | os.PathLike) -> BundleFile:
    """A picklable factory that opens the bundle at ``path`` (made absolute) in each process."""
    return BundleFile(str(Path(path).resolve()))


@dataclass
class BundleFit:
    """A bundle's ``optimizer.cg`` solver as mpicg fit arguments (see the module doc).

    Attributes
    ----------
    bundle_file : str
        The bundle (absolute path).
    solver, compute, dataset : str
        The labels used.
    fit_parameters : list of str
        The twigs fitted, as the solver names them (mpicg's parameter names).
    fitted_twigs, fitted_uniqueids, units : list of str
        Each fitted parameter's full twig, uniqueid and default unit (what a PHOEBE
        solution records).
    initial_values : dict
        Twig -> start value, where it differs from the bundle's face value.
    priors : list of (str, Distribution)
        mpicg priors on the fitted twigs, in PHOEBE's order.
    priors_combine : str
    maxiter : int
    gtol, norm : float
    progress_every_niters : int
    expose_lnprobabilities : bool
    continue_from : str or None
        The solution label continued from.
    times, flux, sigma : ndarray
        The observations (days, W/m², W/m²), after PHOEBE's phase mask.
    lnprobability_offset : float
        What PHOEBE's ln p has that mpicg's ``-fun`` has not: ``-1/2 sum ln(2 pi sigma^2)``
        and the log density of priors on parameters that are not fitted.
    """

    bundle_file: str
    solver: str
    compute: str
    dataset: str
    fit_parameters: list[str]
    fitted_twigs: list[str]
    fitted_uniqueids: list[str]
    units: list[str]
    initial_values: dict[str, float]
    priors: list[tuple[str, Distribution]]
    priors_combine: str
    maxiter: int
    gtol: float
    norm: float
    progress_every_niters: int
    expose_lnprobabilities: bool
    continue_from: str | None
    times: np.ndarray = field(repr=False)
    flux: np.ndarray = field(repr=False)
    sigma: np.ndarray = field(repr=False)
    lnprobability_offset: float = 0.0

    def model(self) -> PhoebeLightCurve:
        """The forward model: the bundle's dataset as a function of the fitted twigs.

        Every process opens the bundle file itself. The earliest observation is the
        reference time (chunks of times get the fluxes of the whole), and a point PHOEBE
        rejects gives ``-ln p = +inf`` (PHOEBE's optimizers give ln p = -inf there).
        """
        return PhoebeLightCurve(bundle_factory(self.bundle_file), self.fit_parameters,
                                dataset=self.dataset, compute=self.compute,
                                reference_time=float(np.min(self.times)), invalid="inf")

    def by_fit_parameter(self, b, values: dict | None, what: str) -> dict:
        """``values`` keyed by any twig of a fitted parameter, re-keyed by its fit name.

        So that ``steps`` may say ``'incl@binary'`` or ``'incl@binary@orbit@component'``
        whichever way ``fit_parameters`` names it.
        """
        out = {}
        for twig, value in (values or {}).items():
            match = b.filter(twig=twig, uniqueid=self.fitted_uniqueids, **_SKIP).to_list()
            if len(match) != 1:
                raise InputError(f"`{what}` names {twig!r}, which is not one of the fitted "
                                 f"parameters {self.fit_parameters}")
            out[self.fit_parameters[self.fitted_uniqueids.index(match[0].uniqueid)]] = value
        return out

    def phoebe_record(self) -> dict:
        """What a PHOEBE solution needs besides the fit's numbers (JSON-safe)."""
        return {"bundle": self.bundle_file, "solver": self.solver, "compute": self.compute,
                "dataset": self.dataset, "fitted_twigs": list(self.fitted_twigs),
                "fitted_uniqueids": list(self.fitted_uniqueids), "units": list(self.units),
                "continue_from": self.continue_from,
                "lnprobability_offset": float(self.lnprobability_offset)}


def _label(labels: list[str], given: str | None, what: str, hint: str) -> str:
    if given is not None:
        if given not in labels:
            raise InputError(f"the bundle has no {what} {given!r}; it has {labels}")
        return given
    if len(labels) != 1:
        raise InputError(f"the bundle has {len(labels)} {what}s {labels}: {hint}")
    return labels[0]


def _value(ps, qualifier: str, **kwargs):
    return ps.get_value(qualifier=qualifier, **kwargs, **_SKIP)


def _fit_parameter(b, twig: str):
    """The one free float parameter ``twig`` names (the adapter's rule, PHOEBE's contexts)."""
    if "[" in twig:
        raise InputError(f"fit parameter {twig!r} names one entry of an array parameter; "
                         "mpicg fits float parameters only")
    found = b.filter(twig=twig, context=FIT_CONTEXTS, **_SKIP)
    if len(found) != 1:
        raise InputError(f"fit parameter {twig!r} matches {len(found)} parameters of the "
                         f"bundle{' ' + str(found.twigs) if len(found) else ''}")
    return found.to_list()[0]


def _fit_twigs(param) -> list[str]:
    """The solver's fit_parameters as written, wildcard entries expanded as PHOEBE does."""
    names = []
    for twig in param.get_value():
        if any(c in twig for c in "*?"):
            names += param.get_value(expand=True, fit_parameters=[twig])
        else:
            names.append(twig)
    return names


def _unitless(value, unit) -> float:
    """A float in ``unit`` from a float or an astropy quantity."""
    if hasattr(value, "unit"):
        return float(value.to(unit).value)
    return float(value)


def _light_curve(b, dataset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times, fluxes, sigmas of the dataset, masked as PHOEBE's likelihood masks them."""
    ds = b.filter(dataset=dataset, context="dataset", **_SKIP)
    times = np.asarray(_value(ds, "times", unit="d"), dtype=float)
    flux = np.asarray(_value(ds, "fluxes", unit="W/m2"), dtype=float)
    sigma = np.asarray(_value(ds, "sigmas", unit="W/m2"), dtype=float)
    if times.size == 0 or flux.size != times.size:
        raise InputError(f"dataset {dataset!r} has {times.size} times and {flux.size} fluxes: "
                         "a fit needs observations (b.set_value('fluxes', ...))")
    if sigma.size == 0:
        sigma = np.ones(times.size)  # PHOEBE's likelihood without sigmas: the plain residuals
    elif sigma.size != times.size:
        raise InputError(f"dataset {dataset!r} has {sigma.size} sigmas for {times.size} times")
    lnf = ds.get_value(qualifier="sigmas_lnf", default=-np.inf, **_SKIP)
    if lnf != -np.inf:
        raise InputError(f"dataset {dataset!r} has sigmas_lnf = {lnf!r} (a noise term PHOEBE "
                         "adds to the sigmas); mpicg fits with the sigmas as given: set it to "
                         "-inf")
    if ds.get_value(qualifier="mask_enabled", default=False, **_SKIP):
        mask_phases = ds.get_value(qualifier="mask_phases", **_SKIP)
        if len(mask_phases):
            from phoebe.utils import phase_mask_inds

            phases = b.to_phase(
                times, period=ds.get_value(qualifier="phases_period", default="period", **_SKIP),
                dpdt=ds.get_value(qualifier="phases_dpdt", default="dpdt", **_SKIP),
                t0=ds.get_value(qualifier="phases_t0", **_SKIP))
            keep = phase_mask_inds(phases, mask_phases)
            times, flux, sigma = times[keep], flux[keep], sigma[keep]
    return times, flux, sigma


def _dataset(b, compute: str, given: str | None) -> str:
    """The one enabled lc dataset with observations (PHOEBE fits every enabled dataset)."""
    def enabled(ds):
        return bool(b.get_value(qualifier="enabled", dataset=ds, compute=compute, **_SKIP))

    def observed(ds):
        return len(b.get_value(qualifier="fluxes" if b.get_dataset(ds, **_SKIP).kind == "lc"
                               else "rvs", dataset=ds, context="dataset", default=[],
                               **_SKIP)) > 0

    fitted = [ds for ds in b.filter(kind=["lc", "rv"], context="dataset", **_SKIP).datasets
              if enabled(ds) and observed(ds)]
    if given is not None:
        if given not in fitted:
            raise InputError(f"dataset {given!r} is not an enabled lc dataset with observations; "
                             f"those are {fitted}")
        fitted = [given]
    if len(fitted) != 1 or b.get_dataset(fitted[0], **_SKIP).kind != "lc":
        raise InputError(f"the bundle's solver would fit the enabled datasets with observations "
                         f"{fitted}; mpicg fits exactly one lc dataset (disable the others "
                         "for this compute, or pass the dataset)")
    return fitted[0]


def read_cg_solver(b, solver: str | None = None, *, bundle_file: str | os.PathLike,
                   dataset: str | None = None) -> BundleFit:
    """Read an ``optimizer.cg`` solver of an open bundle as mpicg fit arguments.

    Parameters
    ----------
    b : phoebe.Bundle
        The bundle (as saved: :func:`open_bundle`).
    solver : str, optional
        The solver's label; default: the bundle's only ``optimizer.cg`` solver.
    bundle_file : path
        Where the bundle is saved (every rank opens it for the model).
    dataset : str, optional
        The lc dataset; default: the only enabled one with observations.

    Returns
    -------
    BundleFit

    Raises
    ------
    InputError
        No such solver, not an ``optimizer.cg`` solver, no fit parameters, an unsupported
        prior or dataset (see the module doc), naming the solver option at fault.
    """
    cg_solvers = list(b.filter(context="solver", kind="cg", **_SKIP).solvers)
    all_solvers = list(b.solvers)
    if solver is not None and solver in all_solvers and solver not in cg_solvers:
        kind = b.get_solver(solver=solver, **_SKIP).kind
        raise InputError(f"solver {solver!r} is an {kind!r} solver; mpicg runs optimizer.cg "
                         f"solvers ({cg_solvers or 'the bundle has none'})")
    solver = _label(cg_solvers, solver, "optimizer.cg solver",
                    "pass the solver's label (--solver)")
    ps = b.get_solver(solver=solver, **_SKIP)
    compute = _value(ps, "compute")
    if compute in (None, "None", ""):
        compute = _label(list(b.computes), None, "compute options",
                         f"set compute@{solver} in the bundle")
    dataset = _dataset(b, compute, dataset)
    continue_from = _value(ps, "continue_from")
    if continue_from in (None, "None", "none", ""):
        continue_from = None
        names = _fit_twigs(ps.get_parameter(qualifier="fit_parameters", **_SKIP))
        initial = dict(_value(ps, "initial_values") or {})
    else:
        if continue_from not in b.solutions:
            raise InputError(f"continue_from@{solver} names the solution {continue_from!r}, "
                             f"which is not in the bundle; it has {list(b.solutions)}")
        sol = b.filter(solution=continue_from, context="solution", **_SKIP)
        names = [str(t) for t in _value(sol, "fitted_twigs")]
        initial = dict(zip(names, (float(v) for v in _value(sol, "fitted_values")), strict=True))
    if not names:
        raise InputError(f"fit_parameters@{solver} is empty: name the twigs to fit")
    params = [_fit_parameter(b, twig) for twig in names]
    uniqueids = [p.uniqueid for p in params]
    fitted = b.filter(uniqueid=uniqueids, **_SKIP)
    initial_values = {}
    for twig, value in initial.items():
        # As PHOEBE: the twig is looked up among the fitted parameters; others are ignored.
        match = fitted.filter(twig=twig, **_SKIP).to_list()
        if len(match) == 1:
            i = uniqueids.index(match[0].uniqueid)
            initial_values[names[i]] = _unitless(value, params[i].get_default_unit())
    priors, constant = bundle_priors(b, list(_value(ps, "priors") or []), uniqueids, names)
    priors_combine = str(_value(ps, "priors_combine"))
    times, flux, sigma = _light_curve(b, dataset)
    offset = -0.5 * float(np.sum(np.log(2 * np.pi * sigma ** 2)))
    for twig, entries in constant.items():
        offset += combine([p for p, _ in entries], priors_combine).logpdf(entries[0][1])
        if not math.isfinite(offset):
            raise InputError(f"the prior on {twig} (not fitted) is zero at its value "
                             f"{entries[0][1]!r}: PHOEBE's ln p would be -inf everywhere")
    return BundleFit(
        bundle_file=str(Path(bundle_file).resolve()), solver=solver, compute=compute,
        dataset=dataset, fit_parameters=names, fitted_twigs=[p.twig for p in params],
        fitted_uniqueids=uniqueids, units=[p.get_default_unit().to_string() for p in params],
        initial_values=initial_values, priors=priors, priors_combine=priors_combine,
        maxiter=int(_value(ps, "maxiter")), gtol=float(_value(ps, "gtol")),
        norm=float(_value(ps, "norm")),
        progress_every_niters=int(_value(ps, "progress_every_niters")),
        expose_lnprobabilities=bool(_value(ps, "expose_lnprobabilities")),
        continue_from=continue_from, times=times, flux=flux, sigma=sigma,
        lnprobability_offset=offset)
