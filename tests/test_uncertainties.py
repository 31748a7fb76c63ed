"""Uncertainties at the optimum, and the diagnosis, of named fits (optimizer_cg)."""

import json

import numpy as np
import pytest
from _linear import START, Polynomial, data, exact

import mpicg
from mpicg.fitting.diagnosis import NOT_CONVERGED, WITHIN_NOISE, Edge, diagnose
from mpicg.fitting.uncertainties import Uncertainties
from mpicg.models import BatmanTransit
from mpicg.priors import Gaussian

NAMES = ["c0", "c1", "c2"]
T, F, S = data()
BEST, COVARIANCE = exact(T, F, S)
SIGMA = np.sqrt(np.diag(COVARIANCE))


def fit(**kw):
    options = {"fit_parameters": NAMES, "initial_values": START, "gtol": 1e-4} | kw
    return mpicg.optimizer_cg(Polynomial(), T, F, S, **options)


@pytest.fixture(scope="module")
def solution():
    return fit()


def relative_error(found, expected):
    """The largest error of a covariance, relative to sqrt(C_ii C_jj)."""
    norm = np.sqrt(np.outer(np.diag(expected), np.diag(expected)))
    return float(np.max(np.abs(found - expected) / norm))


def test_covariance_of_a_linear_model_is_the_least_squares_one(solution):
    # Acceptance: (X^T W X)^-1 within 1 %.
    assert solution.diagnosis.verdict == "converged", solution.diagnosis
    assert relative_error(solution.covariance, COVARIANCE) < 0.01
    np.testing.assert_allclose([solution.uncertainties[k] for k in NAMES], SIGMA, rtol=0.01)
    expected_corr = COVARIANCE / np.outer(SIGMA, SIGMA)
    np.testing.assert_allclose(solution.correlation, expected_corr, atol=0.01)
    assert np.all(np.abs(solution.x - BEST) < 1e-3 * SIGMA)
    # the Hessian's evaluations are counted apart from the fit's: 2 n^2 + 1 and 2 n more,
    # a second Hessian when the steps were off, and the check in the covariance's own axes
    assert solution.nfev_uncertainties in (19 + 6 + 19, 2 * 19 + 6 + 19)
    assert solution.uncertainties_note == ""  # (the check passed: a quadratic -ln p)
    assert solution.nfev_scales >= 2 * 3 + 1


def test_a_prior_adds_its_curvature():
    width = SIGMA[0] / 2
    sol = fit(priors={"c0": Gaussian(1.0, width)})
    expected = np.linalg.inv(np.linalg.inv(COVARIANCE) + np.diag([1 / width**2, 0, 0]))
    assert relative_error(sol.covariance, expected) < 0.01


def test_solution_json_keeps_covariance_uncertainties_and_correlation(solution, tmp_path):
    path = solution.save(tmp_path / "solution.json")
    saved = json.loads(path.read_text())
    assert np.array(saved["covariance"]).shape == (3, 3)
    assert set(saved["uncertainties"]) == set(NAMES)
    assert np.array(saved["correlation"]).shape == (3, 3)
    assert saved["diagnosis"]["verdict"] == "converged"
    loaded = mpicg.load_solution(path)
    assert loaded == solution
    assert np.array_equal(loaded.covariance, solution.covariance)
    text = solution.summary()
    assert "diagnosis: converged" in text
    assert " ± " in text
    assert "1/d^2" in text  # units


def test_an_old_solution_without_uncertainties_still_loads(solution):
    old = solution.to_dict()
    for key in ("diagnosis", "scales", "scale_sources", "uncertainties", "covariance",
                "correlation", "nfev_scales", "nfev_uncertainties", "uncertainties_note"):
        del old[key]
    loaded = mpicg.load_solution(old)
    assert loaded.uncertainties is None
    assert loaded.covariance is None
    assert not loaded.converged  # no diagnosis: nothing to vouch for it


def test_uncertainties_can_be_switched_off(solution):
    sol = fit(uncertainties=False)
    assert sol.uncertainties is None
    assert sol.covariance is None
    assert sol.nfev_uncertainties == 0
    assert "switched off" in sol.uncertainties_note
    assert sol.x.tobytes() == solution.x.tobytes()  # the fit itself is the same
    assert sol.nfev == solution.nfev


@pytest.mark.parametrize(("gtol", "verdict"), [(1.0, NOT_CONVERGED), (0.01, "converged")])
def test_the_diagnosis_measures_how_far_a_loose_gtol_stopped(gtol, verdict):
    # The distance to the minimum it reports (the Newton step -H^-1 g, in sigma) is the
    # distance to the exact least-squares solution: gtol = 1 stops early here, almost a
    # sigma away along c1, and the diagnosis says so.
    sol = fit(gtol=gtol)
    offset = np.abs(sol.x - BEST) / SIGMA
    reason = sol.diagnosis.reason
    assert sol.diagnosis.verdict == verdict, reason
    assert (offset.max() < 0.1) == (verdict == "converged")
    key = "the minimum is " if verdict == NOT_CONVERGED else "the minimum is within "
    reported = float(reason.split(key)[1].split(" σ")[0])
    assert reported == pytest.approx(offset.max(), rel=0.05)


@pytest.mark.parametrize("seed", range(3))
def test_a_radius_pushed_against_its_domain_is_diagnosed_by_name(seed):
    # A transit model fitted to a light curve that brightens where the transit would be:
    # the best depth is negative, the best radius the edge of its domain (0, inf). Without
    # priors the fit must neither leave the domain nor call it a success (the issue: a
    # transit fitted without priors ended with "success" at rp = -0.064).
    t = np.linspace(-0.1, 0.1, 200)
    flux = (1.0 + 1e-3 * (np.abs(t) < 0.05)
            + np.random.default_rng(seed).normal(0.0, 1e-3, t.size))
    sol = mpicg.optimizer_cg(BatmanTransit(), t, flux, np.full(t.size, 1e-3),
                             fit_parameters=["rp"], initial_values={"rp": 0.05})
    assert 0 < sol.fitted_values["rp"] < 1e-3
    assert sol.diagnosis.verdict == NOT_CONVERGED
    assert sol.diagnosis.parameters == ["rp"]
    assert "is at the lower edge of its domain (0, inf)" in sol.diagnosis.reason
    assert not sol.converged


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_an_edge_on_transit_is_diagnosed_at_the_inclination_edge(seed):
    # Data at inc = 90 deg: for these noise draws the best fit is edge-on, the edge of the
    # domain [0, 90]; the fit gets there without leaving the domain and says so.
    model = mpicg.fitting.WithValues(BatmanTransit(), (("inc", 90.0),))
    t = np.linspace(-0.1, 0.1, 200)
    flux = (model(np.array(list(model.defaults.values())), t)
            + np.random.default_rng(seed).normal(0.0, 1e-3, t.size))
    sol = mpicg.optimizer_cg(model, t, flux, np.full(t.size, 1e-3),
                             fit_parameters=["rp", "a", "inc"], initial_values={"inc": 88.5})
    assert 89.99 < sol.fitted_values["inc"] <= 90.0
    assert sol.diagnosis.verdict == NOT_CONVERGED
    assert sol.diagnosis.parameters == ["inc"]
    assert "upper edge of its domain [0, 90]" in sol.diagnosis.reason


def test_a_fit_started_on_the_edge_of_a_symmetric_model_is_told_the_minimum_is_inside():
    # A transit's flux is even about inc = 90 deg (the model's default, and the edge of its
    # domain): -ln p has no slope there, CG never moved, and the diagnosis said the minimum
    # lay on or beyond the edge. It lies at 88.5.
    model = mpicg.models.TransitModel(period=3.0, resolution=8)
    t = np.sort(np.linspace(-0.2, 0.2, 600) + 3.0 * (np.arange(600) % 3))
    truth = {"t0": 0.0, "rp": 0.1, "a": 10.0, "inc": 88.5}
    flux = (model(np.array([truth[n] for n in model.parameter_names]), t)
            + np.random.default_rng(0).normal(0.0, 1e-3, t.size))
    with pytest.warns(UserWarning, match=r"inc starts on the upper edge of its domain "
                                         r"\[0, 90\]: .* the fit cannot leave it; start inside"):
        sol = mpicg.optimizer_cg(model, t, flux, np.full(t.size, 1e-3),
                                 fit_parameters=["inc"], gtol=1e-3)
    assert sol.fitted_values["inc"] == 90.0
    assert sol.diagnosis.verdict == NOT_CONVERGED
    assert sol.diagnosis.parameters == ["inc"]
    assert sol.diagnosis.reason.startswith("inc = 90 deg is at the upper edge of its domain "
                                           "[0, 90], but -ln p is ")
    assert "(the minimum is inside, and the fit did not leave the edge" in sol.diagnosis.reason
    # The probes at the edge are counted (the curvature's, then one and three widths in)
    assert sol.nfev_uncertainties > 2
    # Started inside, the same fit finds it
    inside = mpicg.optimizer_cg(model, t, flux, np.full(t.size, 1e-3), fit_parameters=["inc"],
                                initial_values={"inc": 89.0}, gtol=1e-3)
    assert abs(inside.fitted_values["inc"] - 88.5) < 3 * inside.uncertainties["inc"]


def test_sigma_that_fails_its_check_in_the_covariance_own_axes_says_so():
    # The numerical transit model (a grid over the planet's disc) at b = 0.25: its -ln p
    # jitters at the small steps along a and inc (correlated at 0.996), and σ(a) came out
    # 0.079 against a chain's spread of 0.53, with nothing said. Along the covariance's
    # own axes its curvature is far from the covariance's: the note says σ may be off.
    model = mpicg.models.TransitModel(period=3.0)
    n = 600
    t = np.sort(np.linspace(-0.2, 0.2, n) + 3.0 * (np.arange(n) % 3))
    flux = (model(np.array([0.0, 0.1, 10.0, 88.5]), t)
            + 2e-3 * np.random.default_rng(5).standard_normal(n))
    sol = mpicg.optimizer_cg(model, t, flux, np.full(n, 2e-3),
                             fit_parameters=["rp", "a", "inc"],
                             initial_values={"rp": 0.1, "a": 10.0, "inc": 88.5}, gtol=1e-3,
                             fd_scheme="central")
    assert sol.uncertainties is not None
    assert sol.uncertainties_note.startswith("σ may be off by tens of percent: along the "
                                             "covariance's own axes")
    assert f"  uncertainties: {sol.uncertainties_note}" in sol.summary()


def test_an_edge_start_whose_scale_is_a_fallback_is_told_the_minimum_is_inside():
    # The demo's binary from incl = 90: the start's scale for incl was the fallback, 90 deg,
    # so the probes inside (one and three widths) went to 45 deg, where -ln p is higher
    # still, and the diagnosis said the minimum lay on or beyond the edge. The probes now
    # also go a thousandth, a hundredth and a tenth of the bounds' span in.
    from mpicg.cli.demo import TRUTH
    from mpicg.models import EclipsingBinary

    model = EclipsingBinary(resolution=8)
    values = dict(model.defaults, **TRUTH)
    t = np.linspace(0.0, 10.0, 500)
    flux = (model(np.array([values[n] for n in model.parameter_names]), t)
            + np.random.default_rng(1).normal(0.0, 1e-3, t.size))
    with pytest.warns(UserWarning, match="incl starts on the upper edge"):
        sol = mpicg.optimizer_cg(
            mpicg.fitting.WithValues(model, tuple(values.items())), t, flux,
            np.full(t.size, 1e-3), fit_parameters=["incl", "r1", "r2", "sbratio"],
            initial_values={"incl": 90.0, "r1": 0.11, "r2": 0.1, "sbratio": 0.5},
            fd_scheme="central", gtol=3e-3)
    assert sol.diagnosis.verdict == NOT_CONVERGED
    assert sol.diagnosis.reason.startswith("incl = 90 deg is at the upper edge of its domain "
                                           "[0, 90], but -ln p is ")
    assert "(the minimum is inside" in sol.diagnosis.reason


def test_a_stop_far_short_of_an_edge_with_the_minimum_beyond_it_names_the_edge():
    # t0's minimum (-0.01) lies beyond its prior's lower edge (0): the first line search
    # fails at once (-ln p falls all the way to the edge), the Hessian at the start is not
    # positive definite, so there was no Newton step to say the minimum lay beyond, and
    # the diagnosis named neither t0 nor the edge.
    from mpicg.priors import Uniform

    model = BatmanTransit()
    names = list(model.defaults)
    t = np.linspace(-0.12, 0.12, 400)
    truth = dict(model.defaults) | {"t0": -0.01, "inc": 87.13}
    flux = (model(np.array([truth[k] for k in names]), t)
            + np.random.default_rng(0).normal(0.0, 5e-4, t.size))
    sol = mpicg.optimizer_cg(model, t, flux, np.full(t.size, 5e-4), fit_parameters=["t0"],
                             priors={"t0": Uniform(0.0, 0.05)}, initial_values={"t0": 0.02},
                             gtol=1e-3)
    assert sol.status == 2
    assert sol.diagnosis.verdict == NOT_CONVERGED
    assert sol.diagnosis.parameters == ["t0"]
    assert sol.diagnosis.reason.startswith(
        "t0 = 0.02 d stopped 0.02 d from the lower edge of its prior Uniform(low=0.0, "
        "high=0.05), with -ln p falling steeply towards it (the Hessian there is not "
        "positive definite: the minimum may lie beyond that edge")


class _Sum(mpicg.ParameterizedModel):
    """flux = a + b + c t: the data constrain a + b, never a and b apart."""

    parameters = (mpicg.Parameter("a", 1.0), mpicg.Parameter("b", 0.0),
                  mpicg.Parameter("c", 0.0))

    def __call__(self, values, times):
        a, b, c = values
        return a + b + c * np.asarray(times)


class _Near(mpicg.ParameterizedModel):
    """flux = a + (1 + k) b on t < 0.5, a + b elsewhere: a and b correlated by 1 - O(k^2)."""

    k = 1e-3
    parameters = (mpicg.Parameter("a", 1.0), mpicg.Parameter("b", 0.0))

    def __call__(self, values, times):
        a, b = values
        return a + b * (1.0 + self.k * (np.asarray(times) < 0.5))


def test_parameters_the_data_do_not_constrain_apart_get_no_made_up_sigma():
    # A review found "converged, a = 1 ± 160, b = 0 ± 160" here: a Cholesky factor of
    # the rounding alone. No σ, and the diagnosis names the pair (not c).
    t = np.linspace(0.0, 1.0, 400)
    flux = 1.3 + 0.2 * t + np.random.default_rng(1).normal(0.0, 0.01, t.size)
    sol = mpicg.optimizer_cg(_Sum(), t, flux, np.full(t.size, 0.01),
                             fit_parameters=["a", "b", "c"], gtol=1e-5)
    assert sol.uncertainties is None
    assert sol.covariance is None
    assert sol.diagnosis.verdict == NOT_CONVERGED
    assert sol.diagnosis.parameters == ["a", "b"]
    assert "along a combination of a, b" in sol.diagnosis.reason
    assert "along a combination of a, b" in sol.uncertainties_note
    assert not sol.converged
    assert sol.fitted_values["a"] + sol.fitted_values["b"] == pytest.approx(1.3, abs=3e-3)


class _Ignores(mpicg.ParameterizedModel):
    """flux = a + b t: the model ignores `unused`."""

    parameters = (mpicg.Parameter("a", 1.0), mpicg.Parameter("unused", 0.5),
                  mpicg.Parameter("b", 0.0))

    def __call__(self, values, times):
        a, _, b = values
        return a + b * np.asarray(times)


def test_a_parameter_the_model_ignores_is_named():
    # Its curvature is exactly 0 (or rounding of either sign): the diagnosis said "the
    # Hessian is not positive definite: the solution is not a minimum", naming nobody.
    t = np.linspace(0.0, 10.0, 3000)
    flux = 1.0 + 0.02 * t + np.random.default_rng(3).normal(0.0, 0.01, t.size)
    sol = mpicg.optimizer_cg(_Ignores(), t, flux, np.full(t.size, 0.01),
                             fit_parameters=["a", "unused", "b"], gtol=1e-4)
    assert sol.uncertainties is None
    assert sol.diagnosis.verdict == NOT_CONVERGED
    assert sol.diagnosis.parameters == ["unused"]
    assert ("-ln p is flat, within the rounding of its second differences, in unused: the "
            "data do not constrain it") in sol.diagnosis.reason
    assert sol.uncertainties_note == "the Hessian is flat, within its rounding, in unused"


def test_a_strong_correlation_the_data_resolve_keeps_its_sigma():
    # Correlation 1 - about 1e-6: far above the rounding, so σ stands, and it is the
    # least-squares one.
    t = np.linspace(0.0, 1.0, 400)
    sigma = np.full(t.size, 0.01)
    flux = _Near()(np.array([1.0, 0.3]), t) + np.random.default_rng(2).normal(0, 0.01, t.size)
    sol = mpicg.optimizer_cg(_Near(), t, flux, sigma, fit_parameters=["a", "b"], gtol=1e-6)
    design = np.column_stack([np.ones(t.size), 1.0 + _Near.k * (t < 0.5)]) / sigma[:, None]
    expected = np.linalg.inv(design.T @ design)
    assert sol.covariance is not None, sol.uncertainties_note
    assert abs(sol.correlation[0, 1]) > 0.999
    assert relative_error(sol.covariance, expected) < 0.02


@pytest.mark.parametrize(("offset", "n", "rtol"), [(300.0, 200_000, 0.05),
                                                   (1500.0, 20_000, 0.5)])
def test_an_offset_and_a_slope_on_times_far_from_zero_keep_their_sigma(offset, n, rtol):
    # Correlated at 1 - 5e-7 and 1 - 2e-8, with -ln p 1e5 and 1e4: resolved, though a
    # review found them called unconstrained at 100 times the rounding. (At 1500 the
    # model's own cancellation, a + b t with a near -300, puts more noise into -ln p than
    # the rounding of its sum: σ is measured, but only to some 40 %.)
    t = offset + np.linspace(0.0, 1.0, n)
    sigma = np.full(n, 0.01)
    flux = 1.0 + 0.2 * (t - offset) + np.random.default_rng(3).normal(0.0, 0.01, n)
    line = _Line()
    sol = mpicg.optimizer_cg(line, t, flux, sigma, fit_parameters=["a", "b"],
                             initial_values={"a": 1.0 - 0.2 * offset, "b": 0.2}, gtol=1e-3)
    design = np.column_stack([np.ones(n), t]) / sigma[:, None]
    expected = np.linalg.inv(design.T @ design)
    assert sol.covariance is not None, sol.uncertainties_note
    assert abs(sol.correlation[0, 1]) > 1 - 1e-6
    np.testing.assert_allclose(np.sqrt(np.diag(sol.covariance)),
                               np.sqrt(np.diag(expected)), rtol=rtol)


class _Line(mpicg.ParameterizedModel):
    parameters = (mpicg.Parameter("a", 0.0), mpicg.Parameter("b", 0.0))

    def __call__(self, values, times):
        return values[0] + values[1] * np.asarray(times)


def test_a_parameter_near_an_edge_is_judged_by_its_sigma_at_the_solution():
    # The start's curvature was negative, so the CG's scale of r was a probe step (0.5)
    # while σ at the solution is 1e-4: judged by the start's scale, r 0.013 from its
    # edge counted as at the edge and the fit gave no uncertainties.
    class Dip(mpicg.ParameterizedModel):
        parameters = (mpicg.Parameter("r", 0.5, "", domain=mpicg.Domain(0, 1, "neither")),
                      mpicg.Parameter("a", 1.0))

        def __call__(self, values, times):
            return values[1] - values[0] ** 2 * np.exp(-np.asarray(times) ** 2)

    t = np.linspace(-3.0, 3.0, 300)
    flux = 1.0 - 0.98 ** 2 * np.exp(-t ** 2)
    sol = mpicg.optimizer_cg(Dip(), t, flux, np.full(t.size, 1e-3), fit_parameters=["r", "a"],
                             initial_values={"r": 0.5}, gtol=1e-4)
    assert sol.scale_sources["r"] == "probe step"
    assert sol.uncertainties is not None, sol.uncertainties_note
    assert sol.uncertainties["r"] < 1e-3
    assert "edge" not in sol.diagnosis.reason


def test_50_refits_to_renoised_light_curves_spread_as_sigma_says():
    # Acceptance: a light-curve fit's sigma agrees within 20 % with the spread of 50 fits
    # to re-noised data (benchmarks/uncertainty_calibration.py does 200 and an emcee run).
    model = mpicg.fitting.WithValues(BatmanTransit(), (("inc", 87.13),))  # b = 0.5
    names = ["t0", "rp", "a", "inc"]
    t = np.linspace(-0.12, 0.12, 400)
    clean = model(np.array(list(model.defaults.values())), t)
    noise = 5e-4
    rng = np.random.default_rng(0)
    fitted, sigmas = [], []
    for _ in range(50):
        flux = clean + rng.normal(0.0, noise, t.size)
        sol = mpicg.optimizer_cg(model, t, flux, np.full(t.size, noise), fit_parameters=names,
                                 gtol=1e-3)
        assert sol.uncertainties is not None, sol.diagnosis
        fitted.append(sol.x)
        sigmas.append([sol.uncertainties[k] for k in names])
    spread = np.std(fitted, axis=0, ddof=1)
    ratio = np.median(sigmas, axis=0) / spread
    assert np.all(np.abs(ratio - 1) < 0.2), dict(zip(names, ratio.round(3), strict=True))


# -- the diagnosis on its own -------------------------------------------------------------

def _uncertainties(positive_definite=True, newton=(0.0, 0.0)):
    cov = np.diag([0.04, 0.01]) if positive_definite else None
    return Uncertainties(positive_definite, cov, None if cov is None else np.sqrt(np.diag(cov)),
                         None if cov is None else np.eye(2), np.zeros(2),
                         None if cov is None else np.array(newton), np.eye(2), np.ones(2),
                         9, 1)


def _diagnose(status=0, x=(0.5, 3.0), uncertainties=None, edges=((), ()), **kw):
    return diagnose(status=status, names=["a", "b"], x=np.array(x), units={"a": "deg"},
                    edges=[list(e) for e in edges], scale=np.array([0.1, 0.1]), gnorm=1e-6,
                    gtol=1e-5, maxiter=50, uncertainties=uncertainties, **kw)


@pytest.mark.parametrize(("kwargs", "verdict", "words"), [
    ({}, "converged", "below gtol"),
    ({"uncertainties": _uncertainties()}, "converged", "within 0 σ"),
    ({"status": 1, "uncertainties": _uncertainties()}, NOT_CONVERGED, "maxiter = 50"),
    ({"status": 3}, NOT_CONVERGED, "NaN"),
    ({"status": 99}, NOT_CONVERGED, "callback"),
    ({"uncertainties": _uncertainties(False)}, NOT_CONVERGED, "not positive definite"),
    ({"status": 2, "uncertainties": _uncertainties(newton=(0.01, 0.005))}, WITHIN_NOISE,
     "at most 0.05 σ"),
    ({"status": 2, "uncertainties": _uncertainties(newton=(0.1, 0.0))}, NOT_CONVERGED,
     "0.5 σ away in a"),
    ({"status": 2}, NOT_CONVERGED, "no Hessian"),
    ({"x": (0.0, 3.0), "edges": ([Edge(0.0, "lower", "domain [0, 90]")], ())},
     NOT_CONVERGED, "a = 0 deg is at the lower edge of its domain [0, 90]"),
    ({"status": 2, "x": (0.3, 3.0), "uncertainties": _uncertainties(newton=(-0.5, 0.0)),
      "edges": ([Edge(0.0, "lower", "prior Uniform(low=0.0, high=1.0)")], ())},
     NOT_CONVERGED, "stopped 0.3 deg from the lower edge of its prior"),
])
def test_diagnosis(kwargs, verdict, words):
    found = _diagnose(**kwargs)
    assert found.verdict == verdict
    assert words in found.reason
    assert found.converged == (verdict != NOT_CONVERGED)
