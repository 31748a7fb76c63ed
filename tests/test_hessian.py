"""Second derivatives as batches (mpicg.optimize.hessian) and finite differences with bounds."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpicg.optimize import (
    FiniteDifference,
    curvature_from_values,
    curvature_points,
    hessian_from_values,
    hessian_points,
    invert_hessian,
)


def quadratic(n, seed):
    """f(x) = 1/2 x^T A x + b^T x + c with A symmetric positive definite."""
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(n, n))
    a = m @ m.T + n * np.eye(n)
    b = rng.normal(size=n)

    def f(x):
        return 0.5 * x @ a @ x + b @ x + 3.0

    return f, a, b


def values_at(f, points):
    return np.array([f(p) for p in points])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), seed=st.integers(0, 10_000),
       step=st.floats(1e-3, 1.0))
def test_the_hessian_of_a_quadratic_is_exact(n, seed, step):
    f, a, b = quadratic(n, seed)
    x = np.random.default_rng(seed + 1).normal(size=n)
    h = np.full(n, step) * (1 + np.arange(n))  # unequal steps
    points = hessian_points(x, h)
    assert points.shape == (2 * n * n + 1, n)
    hess = hessian_from_values(x, h, values_at(f, points))
    np.testing.assert_allclose(hess.matrix, a, rtol=1e-6, atol=1e-6 * np.abs(a).max())
    np.testing.assert_allclose(hess.gradient, a @ x + b, rtol=1e-6, atol=1e-6)
    assert hess.value == f(x)
    assert np.array_equal(hess.matrix, hess.matrix.T)


@pytest.mark.parametrize("side", [0, 1, -1])
def test_the_diagonal_curvature_of_a_quadratic_is_exact_central_or_one_sided(side):
    f, a, _ = quadratic(3, 7)
    x = np.array([0.3, -1.2, 2.0])
    h = np.array([0.1, 0.01, 0.5])
    sides = np.full(3, side)
    points = curvature_points(x, h, sides)
    assert points.shape == (7, 3)
    if side:  # one-sided: both points on that side of x, never the other
        moved = points[1:] - x
        assert np.all(np.sign(moved[moved != 0]) == side)
    curvature = curvature_from_values(x, h, values_at(f, points), sides)
    np.testing.assert_allclose(curvature, np.diag(a), rtol=1e-6)


def test_a_non_finite_value_gives_a_nan_curvature():
    x, h = np.zeros(2), np.full(2, 0.1)
    points = curvature_points(x, h)
    values = np.array([1.0 if p[0] > -0.05 else np.inf for p in points])
    curvature = curvature_from_values(x, h, values)
    assert np.isnan(curvature[0])
    assert np.isfinite(curvature[1])


@pytest.mark.parametrize("seed", range(5))
def test_invert_hessian_inverts_positive_definite_matrices_of_any_units(seed):
    _, a, _ = quadratic(4, seed)
    units = np.array([1e-6, 1.0, 1e4, 3e8])  # parameters of wildly different units
    scaled = a / np.outer(units, units)
    inverse = invert_hessian(scaled)
    np.testing.assert_allclose(inverse, np.linalg.inv(scaled), rtol=1e-9)
    assert np.array_equal(inverse, inverse.T)


@pytest.mark.parametrize("matrix", [
    np.array([[1.0, 2.0], [2.0, 1.0]]),      # indefinite: eigenvalues 3 and -1
    np.array([[1.0, 0.0], [0.0, -1e-9]]),    # a negative diagonal element
    np.array([[1.0, 1.0], [1.0, 1.0]]),      # singular
    np.array([[1.0, np.nan], [np.nan, 1.0]]),
])
def test_invert_hessian_refuses_what_is_not_positive_definite(matrix):
    assert invert_hessian(matrix) is None


def test_finite_differences_without_bounds_are_unchanged():
    x = np.array([0.5, 2.0])
    for method in ("forward", "central"):
        plain = FiniteDifference(method, abs_step=np.array([1e-3, 1e-2]))
        loose = FiniteDifference(method, abs_step=np.array([1e-3, 1e-2]),
                                 lower=np.full(2, -np.inf), upper=np.full(2, np.inf))
        h = plain.steps(x)
        assert np.array_equal(h, loose.steps(x))
        assert np.array_equal(plain.points(x, h), loose.points(x, h))


@pytest.mark.parametrize("method", ["forward", "central"])
@pytest.mark.parametrize("x0", [0.0, 1e-4, 0.5, 1.0 - 1e-4, 1.0])
def test_bounded_finite_differences_stay_inside_and_stay_accurate(method, x0):
    f, a, b = quadratic(2, 3)
    lower, upper = np.array([0.0, -np.inf]), np.array([1.0, np.inf])
    rule = FiniteDifference(method, abs_step=np.array([1e-3, 1e-3]), lower=lower,
                            upper=upper)
    x = np.array([x0, 0.3])
    h = rule.steps(x)
    points = rule.points(x, h)
    assert np.all(points >= lower)
    assert np.all(points <= upper)
    g = rule.gradient(x, h, f(x), values_at(f, points))
    # forward: O(h) (a one-sided step either way); central or its one-sided second-order
    # replacement: exact for a quadratic
    tolerance = 1e-2 if method == "forward" else 1e-7
    np.testing.assert_allclose(g, a @ x + b, rtol=tolerance, atol=tolerance)
