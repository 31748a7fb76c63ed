"""Named fits with PHOEBE's optimizer.cg options: parameters, priors, steps, solutions."""

import json

import numpy as np
import pytest

import mpicg
from mpicg.fitting.named import NamedProblem, optimizer_cg
from mpicg.fitting.solution import Solution, load_solution
from mpicg.fitting.steps import Step
from mpicg.models import TransitModel
from mpicg.priors import Gaussian, LogUniform, TruncatedGaussian, Uniform

MODEL = TransitModel(period=3.0, resolution=8)
TRUTH = {"t0": 0.0, "rp": 0.1, "a": 10.0, "inc": 88.5}  # a at the model's default
NOISE = 3e-4


def data(n=400, seed=1):
    one = np.linspace(-0.2, 0.2, n // 2)
    t = np.concatenate([one, one + 3.0])
    x = np.array([TRUTH[k] for k in MODEL.parameter_names])
    flux = MODEL(x, t) + np.random.default_rng(seed).normal(0, NOISE, t.size)
    return t, flux, np.full(t.size, NOISE)


T, F, S = data()
BASE = {"fit_parameters": ["rp", "inc"], "initial_values": {"rp": 0.09, "inc": 88.0},
        "gtol": 1.0}


def fit(**kw):
    return optimizer_cg(MODEL, T, F, S, **dict(BASE, **kw))


def test_named_fit_recovers_truth_and_reports_units():
    sol = fit()
    assert sol.success
    assert sol.fit_parameters == ["rp", "inc"]
    assert sol.fitted_values["rp"] == pytest.approx(0.1, abs=2e-3)
    assert sol.fitted_values["inc"] == pytest.approx(88.5, abs=0.3)
    assert sol.initial_values == {"rp": 0.09, "inc": 88.0}
    assert sol.fixed_values == {"t0": 0.0, "a": 10.0}
    assert sol.units["inc"] == "deg"
    assert sol.nfev > 0
    assert sol.rounds > 0
    assert sol.n_ranks == 1
    assert "rp" in sol.summary()


def test_initial_value_of_an_unfitted_parameter_is_ignored_with_a_warning():
    with pytest.warns(UserWarning, match=r"initial_values\['a'\] is ignored: 'a' is not fitted"):
        sol = fit(initial_values={"rp": 0.09, "inc": 88.0, "a": 8.0})
    assert sol.fixed_values["a"] == 10.0


def test_fixed_parameters_stay_at_their_values():
    # the data were made with a = 10, the default; a fit with a held at 8 (set through the
    # model's defaults) cannot reach the same -ln p
    sol10 = fit()
    model8 = TransitModel(period=3.0, resolution=8)
    sol8 = optimizer_cg(_with_default(model8, "a", 8.0), T, F, S, fit_parameters=["rp", "inc"],
                        initial_values={"rp": 0.09, "inc": 88.0}, gtol=1.0)
    assert sol8.fixed_values["a"] == 8.0
    assert sol8.fun > sol10.fun + 1.0


def _with_default(model, name, value):
    params = tuple(mpicg.Parameter(p.name, value if p.name == name else p.default,
                                              p.unit, p.description) for p in model.parameters)

    class Shifted(type(model)):
        parameters = params

    return Shifted(period=model.period, u1=model.u1, u2=model.u2, resolution=model.resolution)


def test_gaussian_prior_pulls_the_fit():
    free = fit()
    pulled = fit(priors={"rp": Gaussian(0.2, 1e-4)})
    assert pulled.fitted_values["rp"] > free.fitted_values["rp"] + 0.01
    # -ln p includes the prior: larger than the chi-square-only optimum
    assert pulled.fun > free.fun


@pytest.mark.parametrize("combine", ["and", "or", "first"])
def test_priors_combine_changes_the_objective(combine):
    priors = [("rp", Gaussian(0.1, 0.01)), ("rp", Gaussian(0.12, 0.01))]
    sol = fit(priors=priors, priors_combine=combine)
    assert sol.options["priors_combine"] == combine
    problem = NamedProblem(MODEL, T, F, S, ["rp", "inc"], MODEL.defaults,
                           mpicg.priors.Priors(priors, priors_combine=combine))
    x = np.array([0.11, 88.5])
    lp = problem.log_prior(x)
    g1, g2 = Gaussian(0.1, 0.01).logpdf(0.11), Gaussian(0.12, 0.01).logpdf(0.11)
    expected = {"and": g1 + g2, "first": g1, "or": np.log((np.exp(g1) + np.exp(g2)) / 2)}
    assert lp == pytest.approx(expected[combine])


def test_outside_the_prior_support_the_objective_is_inf():
    problem = NamedProblem(MODEL, T, F, S, ["rp", "inc"], MODEL.defaults,
                           mpicg.priors.Priors({"rp": Uniform(0.05, 0.2)}))
    values = problem.value_from_total(np.array([1.0, 1.0]), np.array([[0.1, 88.0],
                                                                      [0.3, 88.0]]))
    assert np.isfinite(values[0])
    assert values[1] == np.inf


def test_uniform_prior_bounds_the_search():
    sol = fit(priors={"rp": Uniform(0.05, 0.0999), "inc": TruncatedGaussian(88.5, 1, 85, 90)})
    assert sol.fitted_values["rp"] <= 0.0999


def test_expose_lnprobabilities_costs_nothing():
    plain = fit()
    exposed = fit(expose_lnprobabilities=True)
    assert plain.lnprobabilities is None
    assert exposed.nfev == plain.nfev
    assert exposed.lnprobabilities["final"] == pytest.approx(-exposed.fun)
    assert exposed.lnprobabilities["initial"] < exposed.lnprobabilities["final"]


def test_solution_round_trip_and_continue_from(tmp_path):
    first = fit(maxiter=3, expose_lnprobabilities=True)
    path = first.save(tmp_path / "solution.json")
    loaded = load_solution(path)
    assert loaded == first
    assert json.loads(path.read_text())["format"] == "mpicg.solution/1"
    # continue from the object and from the file: the same continuation
    a = optimizer_cg(MODEL, T, F, S, continue_from=first, gtol=1.0)
    b = optimizer_cg(MODEL, T, F, S, continue_from=str(path), gtol=1.0)
    assert a.initial_values == first.fitted_values
    assert a.fitted_values == b.fitted_values
    assert a.success
    assert a.fun <= first.fun


def test_continue_from_ignores_fit_parameters_with_a_warning():
    first = fit(maxiter=2)
    with pytest.warns(UserWarning, match="fit_parameters` is ignored with `continue_from"):
        sol = optimizer_cg(MODEL, T, F, S, continue_from=first, fit_parameters=["rp"],
                           gtol=1.0)
    assert sol.fit_parameters == ["rp", "inc"]
    # An initial value given with continue_from is ignored because of it (it was said
    # not to be fitted)
    with pytest.warns(UserWarning, match=r"initial_values\['rp'\] is ignored: continue_from "
                                         r"sets the start$"):
        optimizer_cg(MODEL, T, F, S, continue_from=first, initial_values={"rp": 0.1},
                     gtol=1.0)


def test_a_one_element_array_is_a_start_value():
    from fractions import Fraction

    sol = fit(initial_values={"rp": np.array([0.09]), "inc": Fraction(176, 2)}, maxiter=1)
    assert sol.initial_values == {"rp": 0.09, "inc": 88.0}


def test_adopt_fitted_values():
    sol = fit(maxiter=2)
    adopted = sol.adopt({"t0": 0.0, "rp": 0.5, "a": 9.0, "inc": 80.0})
    assert adopted == {"t0": 0.0, "rp": sol.fitted_values["rp"], "a": 9.0,
                       "inc": sol.fitted_values["inc"]}
    assert sol.adopt() == {"t0": 0.0, "a": 10.0, **sol.fitted_values}


def test_steps_relative_central_and_absolute():
    sol = fit(steps={"rp": Step(1e-4, "relative"), "inc": 1e-4}, fd_scheme="central")
    assert sol.success
    assert sol.options["steps"] == {"rp": {"size": 1e-4, "kind": "relative"},
                                    "inc": {"size": 1e-4, "kind": "absolute"}}
    # central differences: 2 model values per parameter per gradient
    forward = fit(steps={"rp": Step(1e-4, "relative"), "inc": 1e-4})
    assert sol.nfev / sol.njev > forward.nfev / forward.njev


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"fit_parameters": ["rp", "bogus"]}, mpicg.InputError,
     r"unknown parameter\(s\) \['bogus'\]; the model has \['t0', 'rp', 'a', 'inc'\]"),
    ({"fit_parameters": []}, mpicg.InputError, "must name at least one parameter"),
    ({"fit_parameters": ["rp", "rp"]}, mpicg.InputError, r"names \['rp'\] more than once"),
    ({"initial_values": {"nope": 1.0}}, mpicg.InputError, r"`initial_values` names unknown"),
    ({"initial_values": {"inc": "87.5"}}, mpicg.InputError,
     r"`initial_values\['inc'\]` must be a real number; got str '87.5'"),
    ({"initial_values": {"inc": True}}, mpicg.InputError,
     r"`initial_values\['inc'\]` must be a real number; got bool True"),
    ({"initial_values": {"inc": np.array([87.5, 88.0])}}, mpicg.InputError,
     r"`initial_values\['inc'\]` must be a real number; got ndarray"),
    ({"initial_values": {"inc": float("nan")}}, mpicg.InputError,
     r"`initial_values\['inc'\]` must be finite; got nan"),
    ({"maxiter": 0}, mpicg.InputError, r"`maxiter` must be an integer >= 1 \(or None for "
                                       r"PHOEBE's 1e6\); got 0"),
    ({"priors": {"mass": Gaussian(1, 1)}}, mpicg.InputError, "mass"),
    ({"priors": {"a": Gaussian(8, 1)}}, mpicg.InputError, r"not in fit_parameters"),
    ({"priors": {"rp": Uniform(0.2, 0.3)}}, mpicg.InputError,
     r"start value 0.09 of parameter 'rp'.*\[0.2, 0.3\]"),
    ({"priors": {"rp": LogUniform(0.01, 1)}, "priors_combine": "xor"}, mpicg.InputError,
     "priors_combine.*xor"),
    ({"steps": {"rp": 0.0}}, mpicg.InputError, r"steps\['rp'\].*> 0; got 0.0"),
    ({"steps": {"rp": -1e-3}}, mpicg.InputError, r"> 0; got -0.001"),
    ({"steps": {"a": 1e-3}}, mpicg.InputError, r"`steps` names \['a'\]"),
    ({"fd_scheme": "backward"}, mpicg.InputError, "fd_scheme"),
    # (these were AttributeError, TypeError, or a ZeroDivisionError after the first
    # gradient: and other error classes under MPI than serially)
    ({"initial_values": [("rp", 0.1)]}, mpicg.InputError,
     r"`initial_values` must be a dict of parameter names; got list \[\('rp', 0.1\)\]"),
    ({"steps": [1e-4]}, mpicg.InputError,
     r"`steps` must be a dict of parameter names; got list \[0.0001\]"),
    ({"continue_from": 5}, mpicg.InputError,
     r"`continue_from` must be a Solution or the path of a saved one; got int 5"),
    ({"expose_lnprobabilities": "no"}, mpicg.InputError,
     r"`expose_lnprobabilities` must be True or False; got 'no'"),
    ({"norm": 0}, mpicg.InputError, r"`norm` must be a non-zero number .*; got 0"),
])
def test_bad_input_names_the_culprit(kwargs, error, match):
    options = dict(BASE, **kwargs)
    with pytest.raises(error, match=match):
        optimizer_cg(MODEL, T, F, S, **options)


@pytest.mark.parametrize(("args", "match"), [((1e-3, "percent"), "'absolute' or 'relative'"),
                                             ((0.0,), "> 0; got 0.0"),
                                             ((float("nan"),), "> 0; got nan")])
def test_bad_step(args, match):
    with pytest.raises(mpicg.InputError, match=match):
        Step(*args)


def test_non_finite_start_is_an_error_before_any_iteration():
    class Broken(TransitModel):
        def __call__(self, values, times):
            return np.full(times.shape, np.nan)

    with pytest.raises(mpicg.InputError, match="not finite at the start"):
        optimizer_cg(Broken(), T, F, S, fit_parameters=["rp"])


def test_model_must_have_named_parameters():
    with pytest.raises(mpicg.InputError, match="ParameterizedModel"):
        optimizer_cg(lambda x, t: t, T, F, S, fit_parameters=["rp"])


def test_bad_solution_files(tmp_path):
    with pytest.raises(mpicg.InputError, match="does not exist"):
        load_solution(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(mpicg.InputError, match="not valid JSON"):
        load_solution(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    with pytest.raises(mpicg.InputError, match="not an mpicg solution"):
        load_solution(tmp_path / "other.json")
    assert isinstance(load_solution(fit(maxiter=1).to_dict()), Solution)


def test_progress_lines_through_logging(caplog):
    with caplog.at_level("INFO", logger="mpicg"):
        sol = fit(maxiter=3)
    phases = [r.getMessage() for r in caplog.records
              if r.name == "mpicg" and not hasattr(r, "mpicg_progress")]
    assert [line.split(":")[0] for line in phases] == ["scales", "uncertainties",
                                                        "uncertainties"]
    assert "13 evaluations" in phases[1]  # 2 n^2 + 2 n + 1, n = 2
    assert phases[2] == ("uncertainties: the covariance checked along its own axes, 9 "
                         "evaluations in one round")  # 2 n^2 + 1
    records = [r for r in caplog.records if r.name == "mpicg" and hasattr(r, "mpicg_progress")]
    lines = [r.getMessage() for r in records]
    assert len(lines) == sol.nit + 1 == 4  # the start, then each iteration
    assert lines[0].startswith("iter    0  -ln p ")
    assert lines[1].startswith("iter    1  -ln p ")
    assert "|g| " in lines[0]
    assert "model evaluations" in lines[-1]
    assert "s/round" in lines[-1]
    numbers = [r.mpicg_progress for r in records]
    assert [n["iteration"] for n in numbers] == [0, 1, 2, 3]
    assert numbers[-1]["fun"] == sol.fun
    assert numbers[-1]["nfev"] == sol.nfev
    assert numbers[0]["step"] == 0.0


def test_named_fit_resumes_exactly(tmp_path):
    path = tmp_path / "named.progress"
    full = fit(priors={"rp": Gaussian(0.1, 0.01)})
    steps = []

    def stop_after_two(xk):
        steps.append(xk)
        if len(steps) == 2:
            raise KeyboardInterrupt  # stands in for a killed job

    with pytest.raises(KeyboardInterrupt):
        fit(priors={"rp": Gaussian(0.1, 0.01)}, progress_every_niters=1, progress_file=path,
            callback=stop_after_two)
    resumed = fit(priors={"rp": Gaussian(0.1, 0.01)}, resume=path)
    assert resumed.fitted_values == full.fitted_values
    assert (resumed.nit, resumed.nfev, resumed.fun) == (full.nit, full.nfev, full.fun)
