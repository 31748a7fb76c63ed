"""Scaled fit variables: the curvature probes, the scale option, and what scaling changes."""

import numpy as np
import pytest
from _linear import START, Polynomial, data

import mpicg
from mpicg.fitting import WithValues
from mpicg.fitting.checkpoint import load_checkpoint
from mpicg.fitting.fingerprint import problem_fingerprint
from mpicg.fitting.named import FitVectorModel, NamedProblem
from mpicg.fitting.scaling import PROBE_ROUNDS, check_scale, curvature_scales, prior_width
from mpicg.priors import Gaussian, TruncatedGaussian, Uniform

NAMES = ["c0", "c1", "c2"]
T, F, S = data()


def quadratic_batch(sigmas, centre):
    """-ln p = 1/2 sum ((x - centre) / sigma)^2, as a batch evaluator; counts its calls."""
    calls = []

    def evaluate(points):
        calls.append(len(points))
        return 0.5 * np.sum(((points - centre) / sigmas) ** 2, axis=1)

    return evaluate, calls


@pytest.mark.parametrize("first_probe", [1e-6, 1e-4, 1.0, 1e3])
def test_curvature_probes_find_sigma_from_any_first_step(first_probe):
    sigmas = np.array([1e-5, 0.3, 20.0])
    evaluate, calls = quadratic_batch(sigmas, np.array([1.0, 2.0, 3.0]))
    x0 = np.array([1.0, 2.5, 0.0])
    found = curvature_scales(evaluate, x0, first_probe * np.ones(3), np.ones(3, bool),
                             np.full(3, -np.inf), np.full(3, np.inf), [None] * 3)
    np.testing.assert_allclose(found.scales, sigmas, rtol=1e-6)
    assert found.sources == ["curvature"] * 3
    assert found.rounds == len(calls) <= PROBE_ROUNDS
    assert calls[0] == 7  # one batch of 2n + 1 points, then 2 per parameter still probed
    assert found.nfev == sum(calls)


def test_probes_stay_inside_bounds_and_fall_back_where_there_is_no_valley():
    seen = []

    def evaluate(points):
        seen.append(points.copy())
        # a valley in x0 (sigma 0.5), a ridge in x1 (curvature < 0), flat in x2
        return 0.5 * (points[:, 0] / 0.5) ** 2 - points[:, 1] ** 2 + 0 * points[:, 2]

    lower, upper = np.array([0.0, -1.0, -1.0]), np.array([10.0, 1.0, 1.0])
    found = curvature_scales(evaluate, np.array([0.0, 0.2, 0.0]), np.full(3, 0.1),
                             np.ones(3, bool), lower, upper, [None, 0.7, None])
    points = np.vstack(seen)
    assert np.all(points >= lower)
    assert np.all(points <= upper)
    assert found.scales[0] == pytest.approx(0.5)
    assert found.sources == ["curvature", "prior", "probe step"]
    assert found.scales[1] == 0.7


def test_prior_widths():
    assert prior_width(Gaussian(0.0, 2.0)) == 2.0
    assert prior_width(Uniform(0.0, 12.0)) == pytest.approx(12.0 / np.sqrt(12.0))
    assert prior_width(TruncatedGaussian(0.0, 5.0, -1.0, 1.0)) == pytest.approx(
        2.0 / np.sqrt(12.0))
    combined = mpicg.priors.Priors([("x", Gaussian(0, 3.0)), ("x", Uniform(-1, 1))])
    assert prior_width(combined.distribution("x")) == pytest.approx(2.0 / np.sqrt(12.0))


@pytest.mark.parametrize(("scale", "expected"), [
    ("auto", {"c0": "auto", "c1": "auto", "c2": "auto"}),
    ("none", {"c0": "none", "c1": "none", "c2": "none"}),
    (2, {"c0": 2.0, "c1": 2.0, "c2": 2.0}),
    ({"c1": 1e-3, "c2": "none"}, {"c0": "auto", "c1": 1e-3, "c2": "none"}),
])
def test_scale_forms(scale, expected):
    assert check_scale(scale, NAMES) == expected


@pytest.mark.parametrize(("scale", "match"), [
    ("sigma", r"`scale` must be 'auto', 'none' or a number > 0; got 'sigma'"),
    (0.0, r"`scale` must be .* got 0.0"),
    (np.inf, r"`scale` must be .* got inf"),
    (True, r"`scale` must be .* got True"),
    ({"c9": 1.0}, r"`scale` names \['c9'\], which are not in fit_parameters"),
    ({"c1": -1.0}, r"`scale\['c1'\]` must be"),
])
def test_bad_scales_are_input_errors(scale, match):
    with pytest.raises(mpicg.InputError, match=match):
        mpicg.optimizer_cg(Polynomial(), T, F, S, fit_parameters=NAMES, scale=scale)


def fit(**kw):
    options = {"fit_parameters": NAMES, "initial_values": START, "gtol": 1e-4} | kw
    return mpicg.optimizer_cg(Polynomial(), T, F, S, **options)


def test_scaling_makes_a_badly_scaled_fit_converge_in_a_few_iterations():
    # c0, c1, c2 have uncertainties of 6e-5, 2e-5 and 5e-6; unscaled, gtol means three
    # different things and CG zig-zags.
    scaled = fit()
    unscaled = fit(scale="none", steps=dict.fromkeys(NAMES, 1e-07), gtol=1e-4, maxiter=200)
    assert scaled.converged, scaled.diagnosis
    assert scaled.nit <= 10
    assert unscaled.nit >= 3 * scaled.nit, (unscaled.nit, unscaled.diagnosis)  # 32 vs 8 here
    assert scaled.scale_sources == dict.fromkeys(NAMES, "curvature")
    sigma = np.array([scaled.uncertainties[n] for n in NAMES])
    s = np.array([scaled.scales[n] for n in NAMES])
    assert np.all((s > sigma / 20) & (s < sigma * 2))  # about a sigma (conditional one)


def test_scale_none_is_the_unscaled_fit_bit_for_bit():
    # PHOEBE's semantics: with scale='none' the CG runs on the parameters themselves,
    # exactly as mpicg.fit on the same problem with the same steps.
    steps = np.array([1e-6, 1e-7, 1e-8])
    named = fit(scale="none", steps=dict(zip(NAMES, steps, strict=True)), gtol=1e-2,
                maxiter=40, uncertainties=False)
    problem = NamedProblem(Polynomial(), T, F, S, NAMES, dict(Polynomial().defaults, **START))
    plain = mpicg.fit(problem, [START[n] for n in NAMES], epsilon=steps, gtol=1e-2,
                      maxiter=40)
    assert named.x.tobytes() == plain.x.tobytes()
    assert (named.nit, named.nfev, named.status) == (plain.nit, plain.nfev, plain.status)
    assert named.nfev_scales == 0
    assert named.scales == dict.fromkeys(NAMES, 1.0)


def test_given_scales_are_used_as_given():
    sol = fit(scale={"c0": 1e-4, "c1": "auto", "c2": 1e-5})
    assert sol.scales["c0"] == 1e-4
    assert sol.scales["c2"] == 1e-5
    assert sol.scale_sources == {"c0": "given", "c1": "curvature", "c2": "given"}
    assert sol.converged, sol.diagnosis


def test_the_callback_sees_the_parameters_not_the_scaled_variables():
    seen = []
    sol = fit(callback=seen.append)
    assert len(seen) == sol.nit
    assert seen[-1].tobytes() == sol.x.tobytes()
    assert abs(seen[0][0] - 1.0) < 0.02  # c0 ~ 1, not a scaled variable ~ 0


def test_progress_files_keep_the_scales_and_resume_to_the_same_bits(tmp_path):
    path = tmp_path / "progress.json"
    whole = fit()
    stops = []

    def stop_after_three(xk):
        stops.append(xk)
        if len(stops) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(progress_every_niters=1, progress_file=path, callback=stop_after_three)
    checkpoint = load_checkpoint(path)
    scaling = checkpoint.options["scaling"]
    np.testing.assert_array_equal(scaling["scale"], [whole.scales[n] for n in NAMES])
    resumed = fit(resume=path)
    assert resumed.x.tobytes() == whole.x.tobytes()
    assert (resumed.nit, resumed.nfev, resumed.njev) == (whole.nit, whole.nfev, whole.njev)
    assert resumed.scales == whole.scales
    assert resumed.nfev_scales == whole.nfev_scales
    # The fingerprint covers the scales ...
    problem = NamedProblem(Polynomial(), T, F, S, NAMES, dict(Polynomial().defaults, **START))
    other = dict(scaling, scale=scaling["scale"] * 2)
    assert problem_fingerprint(problem, 3, scaling) != problem_fingerprint(problem, 3, other)
    assert checkpoint.fingerprint == problem_fingerprint(problem, 3, scaling)
    # ... and a resume that asks for other scales is refused.
    with pytest.raises(mpicg.InputError, match=r"`scale\['c0'\]` = 1.0 differs from the "
                                               "scale"):
        fit(resume=path, scale={"c0": 1.0})


def test_a_wrapped_model_keeps_its_noise_flag():
    class Noisy(Polynomial):
        noisy = True

    assert WithValues(Noisy(), ()).noisy
    assert not WithValues(Polynomial(), ()).noisy
    model = FitVectorModel(Polynomial(), np.zeros(3), np.arange(3))
    assert not getattr(model, "noisy", False)
