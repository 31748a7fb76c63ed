"""A model linear in its parameters, whose least-squares covariance is known: (X^T W X)^-1."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import mpicg


@dataclass(frozen=True)  # a stable repr: progress files recognise the model across runs
class Polynomial(mpicg.ParameterizedModel):
    """``flux = c0 + c1 (t - 5) + c2 (t - 5)^2``: parameters of very different sizes.

    Over 0 <= t <= 10 the three coefficients' uncertainties differ by two orders of
    magnitude and c0, c2 are strongly correlated: a test of scaling and of the covariance.
    """

    parameters = (
        mpicg.Parameter("c0", 1.0, "", "constant"),
        mpicg.Parameter("c1", 0.0, "1/d", "slope"),
        mpicg.Parameter("c2", 0.0, "1/d^2", "curvature"),
    )

    def __call__(self, values, times):
        c0, c1, c2 = self.check_values(values)
        dt = np.asarray(times, dtype=float) - 5.0
        return c0 + c1 * dt + c2 * dt * dt


TRUTH = np.array([1.0, 2e-3, -3e-4])
START = {"c0": 0.99, "c1": 0.0, "c2": 0.0}


def data(n: int = 600, noise: float = 1e-3, seed: int = 11):
    """Times, flux and sigma of a noisy polynomial, with unequal sigmas."""
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0.0, 10.0, n))
    sigma = noise * (1.0 + rng.uniform(0.0, 1.0, n))
    flux = Polynomial()(TRUTH, times) + rng.normal(0.0, 1.0, n) * sigma
    return times, flux, sigma


def exact(times, flux, sigma):
    """The weighted least-squares solution and its covariance (X^T W X)^-1."""
    dt = times - 5.0
    design = np.column_stack([np.ones_like(dt), dt, dt * dt])
    weights = 1.0 / sigma**2
    normal = design.T @ (design * weights[:, np.newaxis])
    covariance = np.linalg.inv(normal)
    solution = covariance @ (design.T @ (weights * flux))
    return solution, covariance
