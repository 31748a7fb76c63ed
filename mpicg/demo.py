"""The built-in demo: a synthetic transit light curve, made in memory and fitted back.

Run it with ``mpicg demo`` (serial) or ``mpirun -n 4 mpicg demo``. Every rank builds the same
light curve (the noise has a fixed seed) and calls :func:`mpicg.fit`; rank 0 prints.
"""

from __future__ import annotations

import time

import numpy as np

from ._launch import launch_rank
from .fit import fit
from .models import TransitModel
from .problem import Problem
from .result import OptimizeResult

__all__ = ["DemoTransit", "run_demo"]

TRUTH = {"t0": 0.0, "rp": 0.1, "a": 8.0, "inc": 88.5}
FITTED = ("rp", "inc")
START = {"rp": 0.09, "inc": 88.0}


class DemoTransit:
    """The transit model with ``rp`` and ``inc`` free and the other parameters at the truth."""

    def __init__(self, resolution: int):
        self.transit = TransitModel(period=3.0, u1=0.4, u2=0.25, resolution=resolution)

    def __call__(self, x: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Relative flux for ``x = (rp, inc)``."""
        full = dict(TRUTH, rp=x[0], inc=x[1])
        return self.transit(np.array([full[k] for k in self.transit.parameter_names]), times)


def run_demo(n_times: int = 2000, resolution: int = 20, noise: float = 3e-4, seed: int = 1,
             gtol: float = 1.0, out=print) -> OptimizeResult:
    """Make a two-transit light curve with Gaussian noise and fit ``rp`` and ``inc`` back.

    Parameters
    ----------
    n_times : int
        Observations, spread over two transits.
    resolution : int
        Integration grid of the model (cost per time grows as its square).
    noise : float
        Standard deviation of the flux noise (also the sigma of every point).
    seed : int
        Seed of the noise, the same on every rank.
    gtol : float
        Stop when every component of the gradient of -ln L is below this. For a chi-square
        objective 1e-5 is far below what the noise resolves and ends in "precision loss";
        1 moves each parameter by a tiny fraction of its uncertainty.
    out : callable
        Where rank 0's report goes (``print``).

    Returns
    -------
    OptimizeResult
        The fit (see :func:`mpicg.fit`).
    """
    say = out if (launch_rank() or 0) == 0 else (lambda *a, **k: None)
    model = DemoTransit(resolution)
    rng = np.random.default_rng(seed)
    half = n_times // 2
    one = np.linspace(-0.25, 0.25, half)
    times = np.concatenate([one, one + model.transit.period])
    truth = np.array([TRUTH[k] for k in FITTED])
    flux = model(truth, times) + rng.normal(0.0, noise, times.size)
    problem = Problem(model, times, flux, np.full(times.size, noise))

    t0 = time.perf_counter()
    model(truth, times)
    cost = time.perf_counter() - t0
    say(f"mpicg demo: a planetary transit (period 3 d, a/R* = {TRUTH['a']}, quadratic limb "
        f"darkening) observed at {times.size} times over two transits, noise {noise:g}.")
    say(f"  model: numerical integration on a {resolution}x{2 * resolution} grid per time, "
        f"{cost * 1e3:.1f} ms per call on all times")
    say(f"  fitting {', '.join(FITTED)} from {START} (truth {TRUTH['rp']}, {TRUTH['inc']})")
    say(f"  {problem.n_blocks} blocks of observations; gtol = {gtol:g}")
    x0 = np.array([START[k] for k in FITTED])
    res = fit(problem, x0, gtol=gtol)

    say(f"\n{res.message} (status {res.status})")
    for name, value, true in zip(FITTED, res.x, truth, strict=True):
        say(f"  {name:4s} = {value:.6f}   (truth {true:g})")
    say(f"  -ln L = {res.fun:.3f} for {times.size} points; {res.nit} iterations, "
        f"{res.nfev} model evaluations in {res.rounds} rounds")
    say(f"  wall time {res.wall_time:.2f} s on {res.n_ranks} rank(s)")
    for r, (tm, tw) in enumerate(zip(res.time_model, res.time_waiting, strict=True)):
        say(f"    rank {r}: {tm:6.2f} s in the model, {tw:6.2f} s waiting")
    return res
