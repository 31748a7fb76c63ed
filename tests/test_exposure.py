"""Exposure-time integration and baselines: the per-time contract, and what integration buys.

A long-cadence light curve (29.4-minute exposures, as Kepler's and K2's) made from a known
binary is fitted twice: with the model averaged over each exposure, it gives the truth back;
with the instantaneous model, the radii and inclination come out biased by several standard
deviations. The light curve (five days: two primary and two secondary eclipses) has no noise
added, so each fit is the fit's expectation (to first order in the noise) and the
differences from the truth are the estimators' biases; the standard deviations are those
that noise of 2e-4 per point gives (the Fisher matrix).
"""

from __future__ import annotations

import numpy as np
import pytest

import mpicg
from mpicg.fitting import WithValues
from mpicg.models import Baseline, EclipsingBinary, Integrated, Segments
from mpicg.priors import Uniform

LONG_CADENCE = 0.0204336  # d: Kepler/K2 long cadence, 29.4 minutes
TRUTH = {"period": 2.5, "t0": 0.3, "incl": 86.0, "r1": 0.12, "r2": 0.09, "sbratio": 0.5}
FITTED = ["incl", "r1", "r2", "sbratio"]
START = {"incl": 85.5, "r1": 0.115, "r2": 0.095, "sbratio": 0.55}
NOISE = 2e-4


def _vector(model, values: dict) -> np.ndarray:
    full = dict(model.defaults, **values)
    return np.array([full[n] for n in model.parameter_names])


def test_each_time_is_computed_alone_bitwise():
    segments = Segments(starts=(0.0, 4.0, 7.5), centres=(2.0, 5.5, 9.0),
                        names=("Q1", "Q2", "S3"))
    model = Baseline(Integrated(EclipsingBinary(resolution=8), (LONG_CADENCE, 0.01, 0.0014),
                                5, segments), segments, trend=True)
    values = _vector(model, {**TRUTH, "level_2": 1.01, "slope_3": -2e-4})
    times = np.sort(np.random.default_rng(2).uniform(-0.5, 10.0, 900))
    whole = model(values, times)
    for lo, hi in [(0, 1), (3, 400), (399, 900), (450, 451), (120, 777)]:
        assert model(values, times[lo:hi]).tobytes() == whole[lo:hi].tobytes()


def test_a_level_of_one_and_no_supersampling_change_no_bit():
    base = EclipsingBinary(resolution=8)
    times = np.linspace(0.0, 5.0, 700)
    values = _vector(base, TRUTH)
    plain = base(values, times)
    assert Integrated(base, LONG_CADENCE, 1)(values, times).tobytes() == plain.tobytes()
    wrapped = Baseline(base, trend=False)
    assert wrapped(np.append(values, 1.0), times).tobytes() == plain.tobytes()


def test_integration_averages_over_the_exposure():
    base = EclipsingBinary(resolution=8)
    values = _vector(base, TRUTH)
    times = np.linspace(0.2, 0.4, 50)
    fine = ((np.arange(4000) + 0.5) / 4000 - 0.5)[None, :] * LONG_CADENCE + times[:, None]
    expected = base(values, fine.ravel()).reshape(fine.shape).mean(axis=1)
    averaged = Integrated(base, LONG_CADENCE, 101)(values, times)
    np.testing.assert_allclose(averaged, expected, atol=1e-6)
    assert np.max(np.abs(averaged - base(values, times))) > 1e-3  # it matters here


def test_baseline_levels_and_trends_per_segment():
    class Flat(mpicg.ParameterizedModel):
        parameters = (mpicg.Parameter("a", 1.0),)

        def __call__(self, values, times):
            return np.full(np.shape(times), values[0])

    segments = Segments(starts=(0.0, 10.0), centres=(5.0, 15.0))
    model = Baseline(Flat(), segments, trend=True)
    assert model.parameter_names == ("a", "level_1", "level_2", "slope_1", "slope_2")
    flux = model([2.0, 1.5, 0.5, 0.1, -0.2], [-1.0, 5.0, 9.0, 10.0, 15.0, 20.0])
    np.testing.assert_allclose(flux, [2 * 1.5 * (1 - 0.6), 3.0, 2 * 1.5 * 1.4, 2 * 0.5 * 2.0,
                                      1.0, 2 * 0.5 * 0.0])
    with pytest.raises(ValueError, match=r"already has parameter\(s\) \['level'\]"):
        Baseline(Baseline(Flat()))


def _fit(model, times, flux):
    named = WithValues(model, tuple({**TRUTH, **START}.items()))
    priors = {"incl": Uniform(70.0, 90.0), "r1": Uniform(0.01, 0.5),
              "r2": Uniform(0.01, 0.5), "sbratio": Uniform(0.0, 5.0)}
    return mpicg.optimizer_cg(named, times, flux, np.full(times.size, NOISE),
                              fit_parameters=FITTED, priors=priors, fd_scheme="central",
                              steps={n: mpicg.Step(1e-6, "relative") for n in FITTED},
                              gtol=1e-2)


def _sigmas(model, x: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Standard deviations from the Fisher matrix J^T J / NOISE^2 at ``x``."""
    def at(point):
        return model(_vector(model, {**TRUTH, **dict(zip(FITTED, point, strict=True))}), times)

    steps = 1e-6 * np.abs(x)
    jacobian = np.column_stack([(at(x + h * e) - at(x - h * e)) / (2 * h)
                                for h, e in zip(steps, np.eye(x.size), strict=True)])
    covariance = np.linalg.inv(jacobian.T @ jacobian / NOISE**2)
    return np.sqrt(np.diag(covariance))


def test_supersampling_recovers_long_cadence_truth_where_instants_are_biased():
    base = EclipsingBinary(resolution=8)
    times = np.arange(0.0, 5.0, LONG_CADENCE)
    flux = Integrated(base, LONG_CADENCE, 41)(_vector(base, TRUTH), times)
    truth = np.array([TRUTH[n] for n in FITTED])

    integrated = Integrated(base, LONG_CADENCE, 9)
    solution = _fit(integrated, times, flux)
    pulls = (solution.x - truth) / _sigmas(integrated, solution.x, times)
    assert np.all(np.abs(pulls) < 1.0), dict(zip(FITTED, pulls, strict=True))

    instant = _fit(base, times, flux)
    pulls = (instant.x - truth) / _sigmas(base, instant.x, times)
    assert np.max(np.abs(pulls)) > 5.0, dict(zip(FITTED, pulls, strict=True))
    assert abs(pulls[FITTED.index("r1")]) > 5.0


def test_the_wrappers_declare_domains_and_pass_on_noisiness():
    from mpicg.models import ProximityBinary

    class Jittery(mpicg.ParameterizedModel):
        parameters = (mpicg.Parameter("a", 1.0),)
        noisy = True

        def __call__(self, values, times):
            return np.full(np.shape(times), values[0])

    model = Baseline(Integrated(Jittery(), 0.02, 3), Segments((0.0,), (5.0,)), trend=True)
    assert model.noisy
    assert {k: str(v) for k, v in model.domains.items()} == {
        "a": "(-inf, inf)", "level": "(0, inf)", "slope": "(-inf, inf)"}
    binary = ProximityBinary()
    for name in ("ellipsoidal", "reflection1", "reflection2"):
        assert str(binary.domains[name]) == "[0, inf)"
    assert not Baseline(binary).noisy


def test_a_light_ratio_in_the_place_of_the_surface_brightness_ratio():
    from mpicg.models import ProximityBinary

    plain = ProximityBinary(resolution=8)
    by_light = ProximityBinary(resolution=8, light_ratio=True)
    assert by_light.parameter_names[7] == "light_ratio"
    assert plain.parameter_names[7] == "sbratio"
    values = _vector(plain, {**TRUTH, "reflection2": 0.008, "ellipsoidal": 0.003})
    converted = values.copy()
    converted[7] = TRUTH["sbratio"] * (TRUTH["r2"] / TRUTH["r1"]) ** 2
    times = np.linspace(0.0, 3.0, 400)
    np.testing.assert_allclose(by_light(converted, times), plain(values, times), rtol=0,
                               atol=1e-15)
