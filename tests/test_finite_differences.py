"""Finite-difference gradients: accuracy, scipy's step rules, and the cost of each batch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from problems import PROBLEMS
from scipy.optimize._numdiff import approx_derivative

import mpicg
from mpicg.optimize.cg import initial_state, run_cg
from mpicg.optimize.finite_differences import FiniteDifference
from mpicg.optimize.objective import BatchedObjective
from mpicg.parallel import PointWork, SerialEvaluator

EPS = np.finfo(float).eps
SQRT_EPS = float(np.sqrt(EPS))

RULES = {
    "forward": FiniteDifference("forward", abs_step=SQRT_EPS),
    "2-point": FiniteDifference("2-point"),
    "3-point": FiniteDifference("3-point"),
}


class CountingEvaluator:
    """Wraps an evaluator and records every batch it is asked for."""

    def __init__(self, fun):
        self.inner = SerialEvaluator(PointWork(fun))
        self.batches: list[np.ndarray] = []

    def evaluate(self, points):
        self.batches.append(np.array(points, copy=True))
        return self.inner.evaluate(points)

    @property
    def sizes(self):
        return [len(b) for b in self.batches]


class Smooth:
    """A random smooth objective with its analytic gradient."""

    def __init__(self, n, seed):
        rng = np.random.default_rng(seed)
        m = rng.standard_normal((n, n))
        self.a = m @ m.T / n
        self.w = rng.uniform(0.5, 2.0, n)
        self.k = rng.uniform(0.2, 3.0, n)
        self.c = rng.uniform(-0.3, 0.3, n)

    def f(self, x):
        return float(0.5 * x @ self.a @ x + self.w @ np.sin(self.k * x)
                     + np.sum(np.exp(self.c * x)))

    def grad(self, x):
        return self.a @ x + self.w * self.k * np.cos(self.k * x) + self.c * np.exp(self.c * x)


# Tolerances: forward/2-point truncation ~ h |f''| with h ~ 1.5e-8 (times max(1, |x|) for
# the relative rules), plus cancellation ~ eps |f| / h; central differences are O(h^2).
TOLERANCE = {"forward": 2e-6, "2-point": 2e-6, "3-point": 1e-8}


@settings(max_examples=60, deadline=None, derandomize=True)
@given(n=st.integers(1, 8), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([0.01, 1.0, 5.0]), method=st.sampled_from(sorted(RULES)))
def test_gradient_close_to_analytic(n, seed, scale, method):
    problem = Smooth(n, seed)
    x = np.random.default_rng(seed + 1).standard_normal(n) * scale
    objective = BatchedObjective(SerialEvaluator(PointWork(problem.f)), n, RULES[method])
    g = objective.gradient(x)
    exact = problem.grad(x)
    size = max(1.0, abs(problem.f(x))) * max(1.0, float(np.max(np.abs(x))))
    np.testing.assert_allclose(g, exact, rtol=0, atol=TOLERANCE[method] * size * 10)


@pytest.mark.parametrize("method", sorted(RULES))
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_gradient_close_to_analytic_cases(method, seed):
    problem = Smooth(5, seed)
    x = np.random.default_rng(seed).standard_normal(5)
    g = BatchedObjective(SerialEvaluator(PointWork(problem.f)), 5, RULES[method]).gradient(x)
    np.testing.assert_allclose(g, problem.grad(x), rtol=0,
                               atol=TOLERANCE[method] * max(1.0, abs(problem.f(x))))


# -- scipy's step rules ---------------------------------------------------------------------

_SCIPY_RULES = [
    ("forward", {"abs_step": SQRT_EPS}, "2-point", {"abs_step": SQRT_EPS}),
    ("forward", {"abs_step": 1e-6}, "2-point", {"abs_step": 1e-6}),
    ("2-point", {}, "2-point", {}),
    ("3-point", {}, "3-point", {}),
    ("2-point", {"rel_step": 1e-6}, "2-point", {"rel_step": 1e-6}),
    ("3-point", {"rel_step": 1e-4}, "3-point", {"rel_step": 1e-4}),
]


@pytest.mark.parametrize(("method", "kw", "scipy_method", "scipy_kw"), _SCIPY_RULES,
                         ids=[f"{m}-{sorted(k.items())}" for m, k, _, _ in _SCIPY_RULES])
@pytest.mark.parametrize("x", [
    np.array([0.3, -1.7, 12.5, 0.0]),
    np.array([1e-5, -3e4, 2.0, -0.25]),
    np.array([1e20, -1e20, 0.0, 1.0]),
], ids=["moderate", "mixed-scales", "huge"])
def test_gradient_matches_scipy_approx_derivative_bitwise(method, kw, scipy_method,
                                                          scipy_kw, x):
    problem = Smooth(4, 7)

    def f(v):  # bounded at |x| ~ 1e20, unlike the quadratic part of Smooth
        return float(problem.w @ np.sin(problem.k * np.tanh(v)) + 0.1 * np.sum(np.tanh(v)))

    rule = FiniteDifference(method, **kw)
    g = BatchedObjective(SerialEvaluator(PointWork(f)), 4, rule).gradient(x)
    expected = approx_derivative(f, x, method=scipy_method, f0=f(x), **scipy_kw)
    np.testing.assert_array_equal(g, expected)


# Steps that are not powers of two, so that x + h is usually rounded.
INEXACT_RULES = {
    "forward": FiniteDifference("forward", abs_step=1e-8),
    "2-point": FiniteDifference("2-point", rel_step=1e-7),
    "3-point": FiniteDifference("3-point", rel_step=1e-5),
}


@pytest.mark.parametrize("method", sorted(INEXACT_RULES))
@pytest.mark.parametrize("x0", [0.1, 1 / 3, 7.3, -2.9, 1e-3], ids=lambda v: f"x={v:g}")
def test_divisor_is_the_step_the_arithmetic_made(method, x0):
    # For f(x) = x_k, f(x + h e_k) - f(x) is exactly (x_k + h) - x_k; dividing by that (not
    # by the nominal h) gives exactly 1.
    x = np.array([x0, 2.0, -1.0])
    rule = INEXACT_RULES[method]
    h = rule.steps(x)
    if method == "3-point":
        assert (x[0] + h[0]) - (x[0] - h[0]) != 2 * h[0]  # the case is not trivial
    else:
        assert (x[0] + h[0]) - x[0] != h[0]
    for k in range(3):
        g = BatchedObjective(SerialEvaluator(PointWork(lambda v, k=k: v[k])), 3, rule).gradient(x)
        np.testing.assert_array_equal(g, np.eye(3)[k])


def test_forward_step_is_absolute_and_per_parameter():
    x = np.array([1e3, -2.0, 0.0])
    eps = np.array([1e-6, 2e-7, 3e-8])
    np.testing.assert_array_equal(FiniteDifference("forward", abs_step=eps).steps(x), eps)
    np.testing.assert_array_equal(FiniteDifference("forward", abs_step=1e-7).steps(x),
                                  [1e-7, 1e-7, 1e-7])


def test_relative_steps_follow_scipys_sign_and_scale():
    x = np.array([-4.0, -0.5, 0.0, 0.5, 4.0])
    h2 = FiniteDifference("2-point").steps(x)
    np.testing.assert_array_equal(h2, SQRT_EPS * np.array([-4.0, -1.0, 1.0, 1.0, 4.0]))
    h3 = FiniteDifference("3-point").steps(x)
    np.testing.assert_array_equal(h3, EPS ** (1 / 3) * np.array([-4.0, -1.0, 1.0, 1.0, 4.0]))
    # A user rel_step is relative to |x| itself (no max(1, |x|)), as in scipy.
    hr = FiniteDifference("2-point", rel_step=1e-3).steps(np.array([-4.0, 0.5]))
    np.testing.assert_array_equal(hr, [-4e-3, 5e-4])


@pytest.mark.parametrize(
    ("rule", "x", "expected"),
    [
        (FiniteDifference("forward", abs_step=1e-8), np.array([1e20, -1e20, 3.0]),
         np.array([SQRT_EPS * 1e20, -SQRT_EPS * 1e20, 1e-8])),
        (FiniteDifference("forward", abs_step=0.0), np.array([0.0, 2.0]),
         np.array([SQRT_EPS, 2 * SQRT_EPS])),
        (FiniteDifference("2-point", rel_step=1e-6), np.array([0.0, -3.0]),
         np.array([SQRT_EPS, -3e-6])),
        (FiniteDifference("3-point", rel_step=1e-6), np.array([0.0, 1e20]),
         np.array([EPS ** (1 / 3), 1e14])),
    ],
    ids=["forward-huge-x", "forward-zero-step", "2-point-rel-at-zero", "3-point-rel-at-zero"],
)
def test_zero_step_falls_back_to_default_relative_step(rule, x, expected):
    h = rule.steps(x)
    np.testing.assert_array_equal(h, expected)
    assert np.all((x + h) - x != 0)

    for k in range(x.size):
        evaluator = SerialEvaluator(PointWork(lambda v, k=k: v[k]))
        g = BatchedObjective(evaluator, x.size, rule).gradient(x)
        np.testing.assert_allclose(g, np.eye(x.size)[k], rtol=1e-12, atol=0)


def test_points_layout():
    x = np.array([1.0, -2.0, 3.0])
    h = np.array([0.1, 0.2, 0.3])
    fwd = FiniteDifference("forward", abs_step=h).points(x, h)
    np.testing.assert_array_equal(fwd, x + np.diag(h))
    central = FiniteDifference("3-point").points(x, h)
    np.testing.assert_array_equal(central[0::2], x - np.diag(h))
    np.testing.assert_array_equal(central[1::2], x + np.diag(h))


# -- what each request costs ----------------------------------------------------------------

def _counted(method, n=4):
    problem = Smooth(n, 11)
    evaluator = CountingEvaluator(problem.f)
    rule = RULES[method] if method != "analytic" else problem.grad
    return BatchedObjective(evaluator, n, rule), evaluator, problem


@pytest.mark.parametrize(("method", "per_parameter"), [("forward", 1), ("2-point", 1),
                                                       ("3-point", 2)])
def test_gradient_at_new_point_is_one_batch_with_f(method, per_parameter):
    n = 4
    objective, evaluator, problem = _counted(method, n)
    x = np.linspace(-1.0, 1.0, n)
    objective.gradient(x)
    assert evaluator.sizes == [per_parameter * n + 1]
    np.testing.assert_array_equal(evaluator.batches[0][0], x)  # f(x) comes first
    assert (objective.nfev, objective.njev, objective.rounds) == (per_parameter * n + 1, 1, 1)
    # f(x) came with the batch: asking for it costs nothing.
    assert objective.value(x) == problem.f(x)
    assert evaluator.sizes == [per_parameter * n + 1]


@pytest.mark.parametrize(("method", "per_parameter"), [("forward", 1), ("2-point", 1),
                                                       ("3-point", 2)])
def test_gradient_where_f_is_known_costs_only_the_perturbed_points(method, per_parameter):
    n = 5
    objective, evaluator, _ = _counted(method, n)
    x = np.linspace(-1.0, 2.0, n)
    objective.value(x)
    objective.gradient(x)
    assert evaluator.sizes == [1, per_parameter * n]
    assert (objective.nfev, objective.njev, objective.rounds) == (1 + per_parameter * n, 1, 2)


@pytest.mark.parametrize(("method", "per_parameter"), [("forward", 1), ("2-point", 1),
                                                       ("3-point", 2)])
def test_value_and_gradient_is_one_batch(method, per_parameter):
    n = 3
    objective, evaluator, problem = _counted(method, n)
    x = np.array([0.5, -0.25, 2.0])
    f, g = objective.value_and_gradient(x)
    assert evaluator.sizes == [per_parameter * n + 1]
    assert f == problem.f(x)
    # Asking again at the same point costs nothing.
    f2, g2 = objective.value_and_gradient(x)
    assert (f2, evaluator.sizes) == (f, [per_parameter * n + 1])
    np.testing.assert_array_equal(g2, g)


def test_analytic_gradient_costs_no_evaluations():
    objective, evaluator, problem = _counted("analytic")
    x = np.array([0.1, 0.2, 0.3, 0.4])
    g = objective.gradient(x)
    np.testing.assert_array_equal(g, problem.grad(x))
    assert evaluator.sizes == []
    assert (objective.nfev, objective.njev) == (0, 1)
    objective.value_and_gradient(x)
    assert evaluator.sizes == [1]
    assert (objective.nfev, objective.njev) == (1, 1)


def test_memory_holds_one_point_and_survives_caller_mutation():
    objective, evaluator, problem = _counted("forward")
    x = np.array([1.0, 2.0, 3.0, 4.0])
    y = x + 1.0
    objective.value(x)
    objective.value(x.copy())  # equal values: remembered
    assert evaluator.sizes == [1]
    objective.value(y)
    objective.value(x)  # only the last point is remembered
    assert evaluator.sizes == [1, 1, 1]
    x[0] = 10.0  # the caller reuses its array: the memory must not follow it
    assert objective.value(x) == problem.f(np.array([10.0, 2.0, 3.0, 4.0]))
    assert evaluator.sizes == [1, 1, 1, 1]


@pytest.mark.parametrize("name", ["rosen5", "rosen2-fd-epsilon-array", "log-sum-exp-fd",
                                  "powell-singular-fd", "quad-rot-cond1e3-fd"])
def test_cg_run_batches_and_counts(name):
    # A whole CG run through the core: every batch is one value (a zoom trial), the n
    # perturbed points of a gradient where f is known, or n+1 (a Moré-Thuente trial or a
    # gradient at a new point); the totals are scipy's.
    problem = next(p for p in PROBLEMS if p.name == name)
    n = problem.x0.size
    evaluator = CountingEvaluator(problem.f)
    eps = problem.kwargs.get("epsilon", SQRT_EPS)
    rule = problem.grad or FiniteDifference("forward", abs_step=eps)
    objective = BatchedObjective(evaluator, n, rule)
    x0 = problem.x0.astype(float)
    outcome = run_cg(objective, initial_state(objective, x0, np.inf), gtol=1e-5,
                     norm=np.inf, maxiter=200 * n, c1=1e-4, c2=0.4)
    allowed = {1} if problem.grad else {1, n, n + 1}
    assert set(evaluator.sizes) <= allowed
    if not problem.grad:
        assert evaluator.sizes[0] == n + 1  # f and gradient at x0 together
    assert objective.nfev == sum(evaluator.sizes)
    assert objective.rounds == len(evaluator.sizes)
    res = mpicg.minimize(problem.f, problem.x0, **problem.minimize_kwargs())
    assert (objective.nfev, objective.njev, outcome.state.k) == (res.nfev, res.njev, res.nit)
