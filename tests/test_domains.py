"""Physical domains: what they contain, every built-in model declares them, fits keep them."""

import math

import numpy as np
import pytest

import mpicg
from mpicg.fitting.domain import Domain, as_domain
from mpicg.fitting.named import NamedProblem
from mpicg.models import BatmanTransit, EclipsingBinary, TransitModel
from mpicg.priors import Priors, Uniform


@pytest.mark.parametrize(("closed", "inside"), [
    ("both", [True, True, True]),
    ("left", [True, True, False]),
    ("right", [False, True, True]),
    ("neither", [False, True, False]),
])
def test_open_and_closed_ends(closed, inside):
    domain = Domain(0.0, 1.0, closed=closed)
    assert [domain.contains(v) for v in (0.0, 0.5, 1.0)] == inside
    assert not domain.contains(-1e-300)
    assert not domain.contains(1.0 + 1e-15)
    assert not domain.contains(math.nan)
    low, high = domain.inner_bounds()
    assert domain.contains(low)
    assert domain.contains(high)


def test_infinite_ends_never_belong_and_print_as_intervals():
    radius = Domain(0.0, math.inf, closed="neither")
    assert str(radius) == "(0, inf)"
    assert str(Domain(0.0, 1.0, closed="left")) == "[0, 1)"
    assert str(Domain(0.0, 90.0)) == "[0, 90]"
    assert not Domain().contains(math.inf)
    assert Domain().unbounded
    assert as_domain((0.0, None)) == Domain(0.0, math.inf)
    assert as_domain(None).unbounded


@pytest.mark.parametrize(("args", "match"), [
    ((1.0, 0.0), "must be < `high`"),
    ((0.0, 1.0, "open"), "`closed` of a Domain must be one of"),
    (("a", 1.0), "`low` of a Domain must be a number"),
    ((math.nan, 1.0), "must not be nan"),
])
def test_bad_domains_are_input_errors(args, match):
    with pytest.raises(mpicg.InputError, match=match):
        Domain(*args)


def test_a_parameter_takes_a_pair_and_rejects_nonsense():
    assert mpicg.Parameter("r", 0.1, domain=(0.0, 1.0)).domain == Domain(0.0, 1.0)
    assert mpicg.Parameter("x", 0.0).domain.unbounded
    with pytest.raises(mpicg.InputError, match="domain of 'r'"):
        mpicg.Parameter("r", 0.1, domain=(1.0, 0.0))
    with pytest.raises(mpicg.InputError, match="a Domain, a \\(low, high\\) pair or None"):
        mpicg.Parameter("r", 0.1, domain="positive")


@pytest.mark.parametrize(("model", "expected"), [
    (EclipsingBinary(), {"r1": "(0, inf)", "r2": "(0, inf)", "incl": "[0, 90]",
                         "ecc": "[0, 1)", "sbratio": "[0, inf)", "period": "(0, inf)",
                         "t0": "(-inf, inf)"}),
    (TransitModel(), {"rp": "(0, inf)", "a": "(1, inf)", "inc": "[0, 90]"}),
    (BatmanTransit(), {"rp": "(0, inf)", "ecc": "[0, 1)", "inc": "[0, 90]", "u1": "[0, 2]"}),
])
def test_built_in_models_declare_their_domains(model, expected):
    domains = {k: str(v) for k, v in model.domains.items()}
    assert set(domains) == set(model.parameter_names)
    for name, text in expected.items():
        assert domains[name] == text
    for p in model.parameters:  # every default is a value the model can be asked for
        assert p.domain.contains(p.default), p.name


class Recording(mpicg.ParameterizedModel):
    parameters = (mpicg.Parameter("r", 0.5, domain=Domain(0.0, 1.0, closed="neither")),)

    def __init__(self):
        self.calls = []

    def __call__(self, values, times):
        self.calls.append(float(values[0]))
        return np.full(np.shape(times), float(values[0]))


def test_outside_a_domain_the_objective_is_inf_and_the_model_is_not_called():
    model = Recording()
    t = np.linspace(0, 1, 10)
    problem = NamedProblem(model, t, np.full(10, 0.3), np.full(10, 0.1), ["r"], {"r": 0.5})
    for outside in (0.0, -0.1, 1.0, math.nan):
        assert np.all(problem.item_terms(np.array([outside]), 0, 10) == np.inf)
    assert model.calls == []
    assert np.all(np.isfinite(problem.item_terms(np.array([0.3]), 0, 10)))
    assert model.calls == [0.3]
    # What a message about an infinite term says of such a point, and of another
    assert problem.why_infinite(np.array([-0.1])) == "x lies outside a fitted parameter's domain"
    assert problem.why_infinite(np.array([0.3])).startswith("the model gave ±inf there")


def test_a_fit_without_priors_stays_inside_and_every_call_is_inside():
    # The best value (-0.2) lies outside (0, 1): the fit heads for the edge, never past it
    # (its line search, finding +inf beyond the edge, gives up short of it) and says so.
    model = Recording()
    t = np.linspace(0, 1, 50)
    sol = mpicg.optimizer_cg(model, t, np.full(50, -0.2), np.full(50, 0.1),
                             fit_parameters=["r"], fd_scheme="central")
    assert model.calls
    assert all(0.0 < r < 1.0 for r in model.calls)
    assert 0.0 < sol.fitted_values["r"] < 0.5
    assert sol.diagnosis.parameters == ["r"]
    assert "lower edge of its domain (0, 1)" in sol.diagnosis.reason
    assert "with the minimum beyond it" in sol.diagnosis.reason


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"initial_values": {"r1": -0.1}}, r"start value -0.1 of parameter 'r1' is outside its "
                                       r"domain \(0, inf\)"),
    ({"initial_values": {"incl": 91.0}}, r"start value 91.0 of parameter 'incl'"),
])
def test_a_start_outside_the_domain_is_an_input_error(kwargs, match):
    t = np.linspace(0, 1, 20)
    with pytest.raises(mpicg.InputError, match=match):
        mpicg.optimizer_cg(EclipsingBinary(), t, np.ones(20), np.full(20, 1e-3),
                           fit_parameters=["r1", "incl"], **kwargs)


def test_a_fixed_value_outside_the_domain_is_an_input_error():
    model = mpicg.fitting.WithValues(EclipsingBinary(), (("ecc", 1.0),))
    t = np.linspace(0, 1, 20)
    with pytest.raises(mpicg.InputError, match=r"value 1.0 of parameter 'ecc' is outside its "
                                               r"domain \[0, 1\)"):
        mpicg.optimizer_cg(model, t, np.ones(20), np.full(20, 1e-3), fit_parameters=["r1"])


def test_a_prior_outside_the_domain_is_an_input_error():
    t = np.linspace(0, 1, 20)
    with pytest.raises(mpicg.InputError, match=r"Priors|prior"):
        mpicg.optimizer_cg(EclipsingBinary(), t, np.ones(20), np.full(20, 1e-3),
                           fit_parameters=["r1"], initial_values={"r1": 0.1},
                           priors=Priors({"r1": Uniform(-2.0, -1.0)}))
