"""A saved PHOEBE bundle's optimizer.cg solver run by mpicg, and its solution back in PHOEBE.

The acceptance test: the README's comparison problem (PHOEBE's default binary, blackbody
atmospheres, manual logarithmic limb darkening, noise 0.002, truth incl@binary = 86,
requiv@secondary = 1.0), made small for speed (8 times around the eclipses, 300 triangles per
star, a start a few sigma from the minimum), saved as a bundle with an optimizer.cg
solver and priors as PHOEBE distributions, runs with ``mpirun -n 2 mpicg phoebe ...``,
converges, its solution is imported and adopted by PHOEBE, and its fitted values are the bits
that :func:`mpicg.optimizer_cg` gives for the same problem. The other tests read bundles
without fitting (each PHOEBE model call costs 0.3-1 s here). benchmarks/phoebe_bundle.py runs
the full-size problem (41 times, the default mesh, the comparison's start).
"""

import functools
import json
import math

import numpy as np
import pytest
from _mpirun import run_mpi

from mpicg.errors import InputError
from mpicg.models.phoebe_adapter import PhoebeLightCurve, blackbody_binary, import_phoebe

phoebe = pytest.importorskip("phoebe")

from mpicg import Step, optimizer_cg  # noqa: E402
from mpicg.fitting.phoebe_solver import read_phoebe_solver  # noqa: E402
from mpicg.models.phoebe_bundle import open_bundle, read_cg_solver  # noqa: E402
from mpicg.models.phoebe_priors import prior_from_distl  # noqa: E402
from mpicg.models.phoebe_solution import (  # noqa: E402
    phoebe_solution_parameters,
    write_phoebe_solution,
)
from mpicg.priors import Combined, Gaussian, Uniform  # noqa: E402

import_phoebe()
u = phoebe.u
FACTORY = functools.partial(blackbody_binary, ntriangles=300)
TWIGS = ["incl@binary", "requiv@secondary"]
TRUTH = np.array([86.0, 1.0])
START = {"incl@binary": 85.95, "requiv@secondary": 0.997}
TIMES = np.array([-0.06, -0.03, 0.0, 0.03, 0.44, 0.47, 0.5, 0.53])
NOISE = 0.002
# mpicg's defaults for a PHOEBE model: variables scaled by their sigma at the start (so gtol
# is in sigmas), central differences (the model jitters) with steps of half a sigma. At 300
# triangles the mesh jitters (1e-6 deg of incl can move a flux by 0.4 sigma): a fit that
# goes on to a small gradient ends in that jitter, where its end (gtol met or precision
# loss) hangs on the CPU's last bits (from 85.98, 0.999 with gtol 0.3 it converged on the
# machines of earlier sessions and lost precision on an AMD CPU without AVX2). A start
# a few sigma away and gtol 1 stop well before it (3 iterations, 30 evaluations here).
GTOL = 1.0


def observed_flux() -> np.ndarray:
    model = PhoebeLightCurve(FACTORY, TWIGS, reference_time=TIMES[0])
    return model(TRUTH, TIMES) + np.random.default_rng(7).normal(0.0, NOISE, TIMES.size)


def make_bundle(flux: np.ndarray, **solver_options):
    """The problem as a PHOEBE user saves it: data, distributions, an optimizer.cg solver."""
    b = FACTORY()
    b.set_value(qualifier="times", dataset="lc01", context="dataset", value=TIMES)
    b.set_value(qualifier="fluxes", dataset="lc01", context="dataset", value=flux)
    b.set_value(qualifier="sigmas", dataset="lc01", context="dataset",
                value=np.full(TIMES.size, NOISE))
    b.add_distribution("incl@binary", phoebe.uniform(80, 90), distribution="box")
    b.add_distribution("requiv@secondary", phoebe.uniform(0.8, 1.2), distribution="box")
    b.add_distribution("incl@binary", phoebe.gaussian(86.5, 2.0), distribution="guess")
    options = {"fit_parameters": TWIGS, "initial_values": START, "priors": ["box", "guess"],
               "priors_combine": "and", "gtol": GTOL, "maxiter": 10,
               "expose_lnprobabilities": True, "progress_every_niters": 1, **solver_options}
    b.add_solver("optimizer.cg", solver="cg_solver", **options)
    return b


@pytest.fixture(scope="module")
def flux():
    return observed_flux()


@pytest.fixture(scope="module")
def bundle_file(tmp_path_factory, flux):
    path = tmp_path_factory.mktemp("phoebe") / "binary.phoebe"
    make_bundle(flux).save(str(path))
    return path


# -- reading a bundle -----------------------------------------------------------------------

def test_the_solver_read_as_phoebe_means_it(bundle_file, flux):
    fit = read_cg_solver(open_bundle(bundle_file), bundle_file=bundle_file)
    assert (fit.solver, fit.compute, fit.dataset) == ("cg_solver", "phoebe01", "lc01")
    assert fit.fit_parameters == TWIGS
    assert fit.fitted_twigs == ["incl@binary@orbit@component",
                                "requiv@secondary@star@component"]
    assert fit.units == ["deg", "solRad"]
    assert fit.initial_values == START
    assert fit.priors == [("incl@binary", Uniform(80.0, 90.0)),
                          ("requiv@secondary", Uniform(0.8, 1.2)),
                          ("incl@binary", Gaussian(86.5, 2.0))]
    assert (fit.priors_combine, fit.maxiter, fit.gtol, fit.norm) == ("and", 10, GTOL, np.inf)
    assert (fit.progress_every_niters, fit.expose_lnprobabilities) == (1, True)
    assert fit.continue_from is None
    assert fit.times.tobytes() == TIMES.tobytes()
    assert fit.flux.tobytes() == flux.tobytes()
    assert np.all(fit.sigma == NOISE)
    assert fit.lnprobability_offset == pytest.approx(
        -0.5 * TIMES.size * math.log(2 * math.pi * NOISE ** 2), rel=1e-14)


@pytest.mark.parametrize(("dist", "expected"), [
    (lambda: phoebe.gaussian(86, 2), Gaussian(86.0, 2.0)),
    (lambda: phoebe.uniform(80, 90), Uniform(80.0, 90.0)),
    (lambda: phoebe.boxcar(80, 90), Uniform(80.0, 90.0)),
    # in another unit: converted to the parameter's (incl: deg)
    (lambda: phoebe.gaussian(1.5, 0.01, unit=u.rad),
     Gaussian(math.degrees(1.5), math.degrees(0.01))),
    # centred on the face value, 85 deg
    (lambda: phoebe.gaussian_around(2.0), Gaussian(85.0, 2.0)),
    (lambda: phoebe.uniform_around(4.0), Uniform(83.0, 87.0)),
    (lambda: phoebe.uniform(80, 90) & phoebe.gaussian(86, 2),
     Combined((Uniform(80.0, 90.0), Gaussian(86.0, 2.0)), "and")),
    (lambda: phoebe.gaussian(84, 1) | phoebe.gaussian(88, 1),
     Combined((Gaussian(84.0, 1.0), Gaussian(88.0, 1.0)), "or")),
])
def test_distributions_become_priors(dist, expected):
    prior = prior_from_distl(dist(), u.deg, 85.0)
    assert type(prior) is type(expected)
    if isinstance(expected, Combined):
        assert prior.how == expected.how
        pairs = zip(prior.parts, expected.parts, strict=True)
    else:
        pairs = [(prior, expected)]
    for got, want in pairs:
        assert type(got) is type(want)
        have, expect = got.to_dict(), want.to_dict()
        assert have.pop("kind") == expect.pop("kind")
        assert have == pytest.approx(expect, rel=1e-13)


@pytest.mark.parametrize(("dist", "match"), [
    (lambda: phoebe.dependencies.distl.delta(86), "Delta"),
    (lambda: phoebe.histogram_from_data(np.linspace(80, 90, 50)), "Histogram"),
    (lambda: phoebe.gaussian(86, 2) + phoebe.gaussian(0, 1), r"Composite \(__add__\)"),
])
def test_unsupported_distributions_named(dist, match):
    with pytest.raises(InputError, match=match):
        prior_from_distl(dist(), u.deg, 85.0)


def test_continue_from_a_solution_in_the_bundle(bundle_file, tmp_path):
    b = open_bundle(bundle_file)
    path = write_phoebe_solution(tmp_path / "first.ps", phoebe_solution_parameters(
        label="first", solver="cg_solver", compute="phoebe01",
        fitted_twigs=["requiv@secondary@star@component"],
        fitted_uniqueids=[b.get_parameter("requiv@secondary", context="component").uniqueid],
        units=["solRad"], initial_values=[0.99], fitted_values=[1.01],
        message="done", niter=3, success=True))
    b.import_solution(str(path))
    b.set_value("continue_from", solver="cg_solver", value="first")
    fit = read_cg_solver(b, "cg_solver", bundle_file=bundle_file)
    assert fit.continue_from == "first"
    assert fit.fit_parameters == ["requiv@secondary@star@component"]
    assert fit.initial_values == {"requiv@secondary@star@component": 1.01}
    # the priors follow the parameter, whatever twig names it; incl's are now constants
    assert fit.priors == [("requiv@secondary@star@component", Uniform(0.8, 1.2))]
    constant = Combined((Uniform(80.0, 90.0), Gaussian(86.5, 2.0)), "and").logpdf(90.0)
    assert fit.lnprobability_offset == pytest.approx(
        -0.5 * TIMES.size * math.log(2 * math.pi * NOISE ** 2) + constant, rel=1e-14)


@pytest.mark.parametrize(("change", "solver", "match"), [
    (lambda b: b.add_solver("optimizer.nelder_mead", solver="nm"), "nm",
     "'nm' is an 'nelder_mead' solver"),
    (lambda b: b.add_solver("optimizer.cg", solver="other"), None,
     r"2 optimizer.cg solvers \['cg_solver', 'other'\]"),
    (lambda b: b.set_value("fit_parameters", solver="cg_solver", value=[]), None,
     "fit_parameters@cg_solver is empty"),
    (lambda b: b.set_value("sigmas_lnf", dataset="lc01", value=-3.0), None, "sigmas_lnf"),
    (lambda b: b.add_distribution("mass@primary", phoebe.uniform(0.5, 2), distribution="box"),
     None, "mass@primary.*constrained parameter"),
    (lambda b: b.add_distribution("period@binary", phoebe.uniform(2, 3), distribution="box"),
     None, "period@binary.*not fitted.*zero"),
    (lambda b: (b.add_distribution("incl@binary", phoebe.dependencies.distl.delta(86),
                                   distribution="pinned"),
                b.set_value("priors", solver="cg_solver", value=["box", "pinned"])),
     None, "distribution 'pinned' on incl@binary.*Delta"),
])
def test_what_mpicg_cannot_run_is_named(flux, change, solver, match):
    b = make_bundle(flux)
    change(b)
    with pytest.raises(InputError, match=match):
        read_cg_solver(b, solver, bundle_file="x.phoebe")


def test_phase_mask_applied_as_phoebe_applies_it(flux):
    b = make_bundle(flux)
    b.set_value("mask_enabled", dataset="lc01", value=True)
    b.set_value("mask_phases", dataset="lc01", value=[(-0.1, 0.1)])
    fit = read_cg_solver(b, bundle_file="x.phoebe")
    assert fit.times.tolist() == TIMES[:4].tolist()  # the primary eclipse only


def test_steps_by_any_twig_and_unknown_steps_named(bundle_file):
    fit = read_phoebe_solver(bundle_file, steps={"incl@binary@orbit@component": 0.01,
                                                "requiv@secondary": Step(1e-3, "relative")})
    assert fit.steps == {"incl@binary": 0.01, "requiv@secondary": Step(1e-3, "relative")}
    # the model's repr names the bundle file and no memory address: a progress file's
    # fingerprint must be the same when the fit resumes in other processes
    assert repr(fit.model) == repr(read_phoebe_solver(bundle_file).model)
    assert str(bundle_file) in repr(fit.model)
    assert "0x" not in repr(fit.model)
    with pytest.raises(InputError, match="`steps` names 'period@binary'"):
        read_phoebe_solver(bundle_file, steps={"period@binary": 0.01})


def test_a_written_solution_is_imported_and_adopted_by_phoebe(bundle_file, tmp_path):
    b = open_bundle(bundle_file)
    ids = [b.get_parameter(t, context="component").uniqueid for t in TWIGS]
    path = write_phoebe_solution(tmp_path / "s.ps", phoebe_solution_parameters(
        label="mine", solver="cg_solver", compute="phoebe01",
        fitted_twigs=["incl@binary@orbit@component", "requiv@secondary@star@component"],
        fitted_uniqueids=ids, units=["deg", "solRad"], initial_values=[85.9, 0.99],
        fitted_values=[86.25, 1.0125], message="Optimization terminated successfully.",
        niter=4, success=True, lnprobabilities=(-100.0, -5.0)))
    b.import_solution(str(path))
    sol = b.get_solution("mine")
    assert sol.kind == "cg"
    assert sol.get_value("niter") == 4
    assert sol.get_value("success") is True
    assert sol.get_value("fitted_lnprobability") == -5.0
    b.adopt_solution("mine")
    assert b.get_value("incl@binary", context="component") == 86.25
    assert b.get_value("requiv@secondary", context="component") == 1.0125


def test_progress_solution_every_n_iterations_is_imported_by_phoebe(bundle_file, tmp_path):
    from mpicg.fitting.phoebe_solver import _progress_writer

    fit = read_cg_solver(open_bundle(bundle_file), bundle_file=bundle_file)
    record = {**fit.phoebe_record(), "solution": "running_fit"}
    path, seen = tmp_path / "solution.ps.progress", []
    hook = _progress_writer(record, [85.98, 0.999], 2, path, None, seen.append)
    hook(np.array([85.98, 0.998]))
    assert not path.exists()  # every 2 iterations
    hook(np.array([85.99, 0.999]))
    assert len(seen) == 2  # the user's callback still runs
    b = open_bundle(bundle_file)
    b.import_solution(str(path))
    sol = b.get_solution("running_fit")
    assert (sol.get_value("message"), sol.get_value("niter")) == ("running", 2)
    b.adopt_solution("running_fit")
    assert b.get_value("incl@binary", context="component") == 85.99


# -- the acceptance run ---------------------------------------------------------------------

def test_mpirun_mpicg_phoebe_converges_adopts_and_equals_optimizer_cg(bundle_file, flux,
                                                                     tmp_path):
    out, fitted = tmp_path / "out", tmp_path / "fitted.phoebe"
    # mpicg's own options on top of the solver's: central differences; no covariance at the
    # end (2n^2 + 1 more model calls: tested on a cheap model elsewhere)
    job = run_mpi(2, ["-m", "mpicg", "phoebe", str(bundle_file), "--solver", "cg_solver",
                      "--output", str(out), "--save-bundle", str(fitted),
                      "--fd-scheme", "central", "--no-uncertainties"], timeout=600)
    assert not job.timed_out, job.output
    assert job.returncode == 0, job.output
    # PHOEBE's per-call log lines stay out of the progress output
    assert "run_compute" not in job.output, job.output
    assert "BUNDLE" not in job.output, job.output
    assert "iter    1  -ln p" in job.output
    solution = json.loads((out / "solution.json").read_text())
    assert solution["status"] == 0, solution
    assert solution["success"], solution
    assert solution["diagnosis"]["verdict"] == "converged", solution["diagnosis"]
    assert solution["n_ranks"] == 2

    # the output directory is a job's: history with the parameters, and a report
    history = (out / "history.csv").read_text().splitlines()
    assert history[0].endswith(",incl@binary,requiv@secondary")
    assert len(history) == solution["nit"] + 2
    from mpicg.cli.report import write_report

    written = write_report(out, say=lambda *a: None)
    assert {p.name for p in written} >= {"report.txt", "fit.png", "convergence.png"}
    assert f"{TIMES.size} observations; chi^2" in (out / "report.txt").read_text()

    # PHOEBE imports the solution file and adopts it
    b = open_bundle(bundle_file)
    b.import_solution(str(out / "solution.ps"))
    assert b.solutions == ["latest"]
    sol = b.get_solution("latest")
    assert sol.get_value("success") is True
    assert sol.get_value("niter") == solution["nit"]
    b.adopt_solution("latest")
    adopted = [b.get_value(t, context="component") for t in TWIGS]
    assert adopted == [solution["fitted_values"][t] for t in TWIGS]
    saved = open_bundle(fitted)  # --save-bundle: the same values, saved by PHOEBE
    assert [saved.get_value(t, context="component") for t in TWIGS] == adopted

    # the exposed ln p is PHOEBE's own at the fitted values (its likelihood and priors)
    saved.set_value("compute_times", dataset="lc01", value=TIMES)
    saved.run_compute(model="check", progressbar=False)
    lnp = saved.calculate_lnp(distribution=["box", "guess"], combine="first") \
        + saved.calculate_lnlikelihood(model="check")
    uniform_and_gaussian = Gaussian(86.5, 2.0).logpdf(adopted[0])
    assert sol.get_value("fitted_lnprobability") == pytest.approx(
        lnp + uniform_and_gaussian, rel=1e-9)

    # the same problem through optimizer_cg, serially in this process: the same bits
    model = PhoebeLightCurve(FACTORY, TWIGS, reference_time=TIMES[0], invalid="inf")
    reference = optimizer_cg(
        model, TIMES, flux, np.full(TIMES.size, NOISE), fit_parameters=TWIGS,
        initial_values=START, priors=[("incl@binary", Uniform(80, 90)),
                                      ("requiv@secondary", Uniform(0.8, 1.2)),
                                      ("incl@binary", Gaussian(86.5, 2.0))],
        fd_scheme="central", uncertainties=False, gtol=GTOL, maxiter=10,
        expose_lnprobabilities=True)
    assert reference.status == 0
    assert [float(v).hex() for v in reference.x] == \
        [float(solution["fitted_values"][t]).hex() for t in TWIGS]
    assert (reference.nit, reference.nfev) == (solution["nit"], solution["nfev"])
