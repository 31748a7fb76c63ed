"""The built-in demo: a synthetic eclipsing-binary light curve, made in memory and fitted back.

``mpicg demo`` (or ``mpirun -n 4 mpicg demo``) computes ten days of an eclipsing binary with
the built-in model, adds Gaussian noise with a fixed seed, writes the light curve and a job
file into the output directory (``mpicg-demo`` by default), and fits four parameters from a
perturbed start exactly as ``mpicg fit`` would: same output files, so ``mpicg report`` and
``mpicg resume`` work on it too.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fitting import Solution
from ..models import EclipsingBinary
from ..parallel import collective_verdict, is_root, launch_size
from .jobfile import load_job
from .output import prepare_directory

__all__ = ["TRUTH", "run_demo", "write_demo_job"]

#: The binary the light curve is made from (the other parameters: the model's defaults).
TRUTH = {"period": 2.5, "t0": 0.3, "incl": 86.5, "r1": 0.12, "r2": 0.09, "sbratio": 0.6}
#: The fitted parameters and where the fit starts.
START = {"incl": 85.5, "r1": 0.11, "r2": 0.1, "sbratio": 0.5}

_JOB = """\
# A job file for mpicg fit, written by mpicg demo: copy it as a start for your own fits.
[model]
name = "eclipsing_binary"
options = {{ resolution = {resolution} }}

[data]
file = "lightcurve.csv"
columns = ["time", "flux", "sigma"]

[parameters]   # the fixed parameters at the truth, the fitted ones at the start
{parameters}

[fit]
parameters = [{fitted}]
# CG runs on u = (x - x0) / s, with s about each parameter's sigma (scale = "auto", the
# default): gtol bounds the gradient in u (a parameter about gtol sigma from the minimum,
# more for strongly correlated ones: the solution's diagnosis measures it).
gtol = {gtol}
fd_scheme = "central"   # central differences, steps of s / 10 (the default steps)
# scale = "auto"        # or "none" (PHOEBE's unscaled semantics), or a number; per
#                       # parameter in a [scales] table
# uncertainties = true  # covariance, sigma and correlations at the solution (the default)

# No [priors] are needed to keep the fit physical: the model's domains (radii > 0,
# 0 <= incl <= 90, sbratio >= 0) do that.

[output]
directory = "."
progress_every_niters = 10
"""


def write_demo_job(directory, n_times: int = 5000, noise: float = 1e-3,
                   resolution: int = 16, seed: int = 1, gtol: float = 3e-3) -> Path:
    """Write the demo's light curve and job file into ``directory``; return the job file.

    Parameters
    ----------
    directory : str or path
        Created if needed.
    n_times : int
        Observations, evenly spaced over ten days (four orbits).
    noise : float
        Standard deviation of the Gaussian flux noise (and every point's sigma).
    resolution : int
        The model's quadrature nodes.
    seed : int
        Seed of the noise.
    gtol : float
        Stop when every component of the gradient of -ln p in scaled variables is below
        this (about that many σ from the minimum).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = EclipsingBinary(resolution=resolution)
    values = dict(model.defaults, **TRUTH)
    times = np.linspace(0.0, 10.0, n_times)
    flux = model(np.array([values[n] for n in model.parameter_names]), times)
    flux = flux + np.random.default_rng(seed).normal(0.0, noise, n_times)
    table = np.column_stack([times, flux, np.full(n_times, noise)])
    np.savetxt(directory / "lightcurve.csv", table, delimiter=",", fmt="%.17g",
               header="time,flux,sigma", comments="")
    start = dict(values, **START)
    job = _JOB.format(
        resolution=resolution, gtol=gtol,
        parameters="\n".join(f"{n} = {start[n]!r}" for n in model.parameter_names),
        fitted=", ".join(f'"{n}"' for n in START))
    path = directory / "job.toml"
    path.write_text(job)
    return path


def run_demo(output="mpicg-demo", n_times: int = 5000, noise: float = 1e-3,
             resolution: int = 16, seed: int = 1, say=print) -> Solution:
    """Make the demo's light curve and fit it on every rank of the launch.

    Parameters
    ----------
    output : str or path
        The output directory (light curve, job file, solution, progress file, history).
    n_times, noise, resolution, seed
        See :func:`write_demo_job`.
    say : callable
        Where rank 0's report goes.

    Returns
    -------
    Solution
        The fit, on every rank.
    """
    from .fit import run_fit

    size = launch_size() or 1
    say = say if is_root() else (lambda *a, **k: None)
    error = None
    if is_root():
        try:
            prepare_directory(output)
            write_demo_job(output, n_times=n_times, noise=noise, resolution=resolution,
                           seed=seed)
        except OSError as e:
            error = InputError(f"cannot write the demo into {str(output)!r}: "
                               f"{e.strerror or e}")
        except InputError as e:
            error = e
    # Every rank learns whether rank 0 wrote it; then the others read what it wrote.
    collective_verdict(error, "while writing the demo's light curve and job file")
    job_file = Path(output) / "job.toml"
    job = load_job(job_file)
    say(f"mpicg demo: a detached eclipsing binary (period {TRUTH['period']} d, "
        f"inclination {TRUTH['incl']} deg, radii {TRUTH['r1']} and {TRUTH['r2']} of the "
        f"separation, surface-brightness ratio {TRUTH['sbratio']}), observed {n_times} times "
        f"over 10 days with noise {noise:g}.")
    say(f"  light curve and job file written to {job_file.parent}/; fitting "
        f"{', '.join(START)} from {START}")
    started = time.perf_counter()
    solution = run_fit(job)
    sigma = solution.uncertainties or {}
    say("\n  parameter   fitted       sigma       truth   (fitted - truth) / sigma   start")
    for name in solution.fit_parameters:
        fitted = solution.fitted_values[name]
        pull = (f"{(fitted - TRUTH[name]) / sigma[name]:+8.2f}" if name in sigma
                else "       -")
        spread = f"{sigma[name]:10.2g}" if name in sigma else "         -"
        say(f"  {name:9s} {fitted:11.6f} {spread} {TRUTH[name]:10.4f}   {pull}"
            f"                {START[name]:8.4f}")
    say(f"  {solution.diagnosis}")
    say(f"  {solution.nit} iterations, {solution.nfev} model evaluations (and "
        f"{solution.nfev_scales + solution.nfev_uncertainties} for the scales and the "
        f"uncertainties) on {size} rank(s) in {time.perf_counter() - started:.1f} s")
    say(f"  next: mpicg report {Path(output) / 'solution.json'}")
    return solution
