"""PHOEBE job files ([phoebe]) and the `mpicg phoebe` arguments; no PHOEBE needed."""

from __future__ import annotations

import textwrap

import pytest

from mpicg.cli.jobfile import load_job
from mpicg.cli.main import main
from mpicg.cli.phoebe import phoebe_job, write_job_file

JOB = textwrap.dedent("""\
    [phoebe]
    bundle = "binary.phoebe"
    solver = "cg_solver"
    save_bundle = "fitted.phoebe"

    [steps]
    "incl@binary" = 0.01
    "requiv@secondary" = { size = 1e-3, kind = "relative" }

    [fit]
    fd_scheme = "central"
    gtol = 50.0

    [output]
    directory = "out"
    """)


def _write(tmp_path, text=JOB):
    path = tmp_path / "job.toml"
    path.write_text(text)
    return path


def test_a_phoebe_job_file_is_read(tmp_path):
    job = load_job(_write(tmp_path))
    assert job.phoebe == {"bundle": str(tmp_path / "binary.phoebe"), "solver": "cg_solver",
                          "dataset": None, "solution": "latest",
                          "save_bundle": str(tmp_path / "fitted.phoebe")}
    assert job.steps == {"incl@binary": {"size": 0.01, "kind": "absolute"},
                         "requiv@secondary": {"size": 1e-3, "kind": "relative"}}
    assert job.options == {"fd_scheme": "central", "gtol": 50.0}
    assert job.output == str(tmp_path / "out")
    assert job.progress_every_niters is None  # the solver's own


@pytest.mark.parametrize(("old", "new", "match"), [
    ('[output]', '[model]\nname = "transit"\n\n[output]', r"\[model\]: not allowed with"),
    ('gtol = 50.0', 'gtol = 50.0\nparameters = ["incl@binary"]',
     r"\[fit\] parameters: not allowed.*fit_parameters"),
    ('gtol = 50.0', 'gtol = 50.0\npriors_combine = "or"',
     r"\[fit\] priors_combine: set it in the bundle's solver"),
    ('bundle = "binary.phoebe"\n', '', r"\[phoebe\] bundle: is missing"),
    ('solver = "cg_solver"', 'solver = 3', r"\[phoebe\] solver: must be a non-empty string"),
    ('solver = "cg_solver"', 'solver = "cg_solver"\nlabel = "x"', r"\[phoebe\] label: unknown"),
    ('directory = "out"', 'directory = "out"\nprogress_every_niters = -1',
     r"\[output\] progress_every_niters: must be an integer >= 0"),
    ('fd_scheme = "central"', 'fd_scheme = "sideways"', r"\[fit\] fd_scheme"),
])
def test_phoebe_job_file_mistakes_name_the_key(tmp_path, old, new, match):
    assert old in JOB
    with pytest.raises(ValueError, match=match):
        load_job(_write(tmp_path, JOB.replace(old, new)))


def test_the_command_writes_a_job_file_that_reads_back(tmp_path):
    job = phoebe_job(tmp_path / "b.phoebe", "cg", output=tmp_path / "o", dataset="lc01",
                     solution="mine", save_bundle=tmp_path / "f.phoebe",
                     steps={"incl@binary": {"size": 0.01, "kind": "absolute"}},
                     options={"gtol": 2.5, "fd_scheme": "central", "maxiter": 7},
                     progress_every_niters=3)
    again = load_job(write_job_file(job, tmp_path / "o.toml"))
    assert again.phoebe == job.phoebe
    assert (again.steps, again.options, again.output, again.progress_every_niters) == \
        (job.steps, job.options, job.output, job.progress_every_niters)


def test_default_output_is_beside_the_bundle(tmp_path):
    job = phoebe_job(tmp_path / "binary.phoebe", "cg_solver")
    assert job.output == str(tmp_path / "binary-cg_solver-out")


def test_a_missing_bundle_is_bad_input(tmp_path, capsys):
    code = main(["phoebe", str(tmp_path / "nowhere.phoebe"), "--output", str(tmp_path / "o")])
    assert code == 2
    assert "nowhere.phoebe' does not exist" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing written before the input is checked


@pytest.mark.parametrize("step", ["incl", "incl=0", "incl=-1", "incl=abc", "incl=1:sideways"])
def test_bad_step_arguments_are_refused(tmp_path, step, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["phoebe", str(tmp_path / "b.phoebe"), "--step", step])
    assert caught.value.code == 2
    assert "--step must be TWIG=SIZE" in capsys.readouterr().err


def test_mpicgs_own_options_pass_through_the_bundle_runner():
    """scale and uncertainties reach optimizer_cg (a cheap model stands in for PHOEBE's)."""
    import numpy as np

    from mpicg.fitting.phoebe_solver import PhoebeFit, phoebe_solution, run_phoebe_solver
    from mpicg.models import TransitModel
    from mpicg.models.phoebe_bundle import BundleFit

    model = TransitModel(period=3.0, resolution=4)
    times = np.linspace(-0.2, 0.2, 60)
    truth = np.array([model.defaults[n] for n in model.parameter_names])
    flux = model(truth, times) + np.random.default_rng(3).normal(0, 1e-4, times.size)
    bundle = BundleFit(
        bundle_file="b.phoebe", solver="cg", compute="c", dataset="lc01",
        fit_parameters=["rp"], fitted_twigs=["rp@x"], fitted_uniqueids=["U"], units=[""],
        initial_values={"rp": 0.095}, priors=[], priors_combine="and", maxiter=50, gtol=1e-2,
        norm=np.inf, progress_every_niters=0, expose_lnprobabilities=True,
        continue_from=None, times=times, flux=flux, sigma=np.full(times.size, 1e-4),
        lnprobability_offset=-7.0)
    prepared = PhoebeFit(bundle, model, steps={}, scale={"rp": 0.001})
    sol = run_phoebe_solver(prepared, fd_scheme="central", uncertainties=True)
    assert sol.scales == {"rp": 0.001}
    assert sol.uncertainties is not None
    assert sol.uncertainties["rp"] > 0
    assert sol.nfev_uncertainties > 0
    assert sol.options["fd_scheme"] == "central"
    assert sol.options["phoebe"]["solver"] == "cg"
    without = run_phoebe_solver(PhoebeFit(bundle, model, steps={}, scale="none"),
                                uncertainties=False)
    assert without.uncertainties is None
    assert without.nfev_uncertainties == 0
    params = {p["qualifier"]: p["value"] for p in phoebe_solution(sol)}
    assert params["fitted_values"] == [sol.fitted_values["rp"]]
    assert params["fitted_lnprobability"] == sol.lnprobabilities["final"] - 7.0
