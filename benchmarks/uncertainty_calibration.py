"""Are optimizer_cg's uncertainties right? Against refits of re-noised data and emcee.

    python benchmarks/uncertainty_calibration.py [--refits 200] [--seed 0] [--no-emcee]

The light curve: a ``BatmanTransit`` (rp = 0.1, a = 10, inc = 87.13 deg, so the impact
parameter is 0.5; P = 3 d; quadratic limb darkening 0.4, 0.25), 400 times over +-0.12 d
around the transit, Gaussian noise of 5e-4. Fitted: t0, rp, a, inc, with mpicg's defaults
(scale 'auto', forward differences, gtol 1e-3).

1. ``--refits`` fits, each to the noise-free curve plus a new noise draw: the standard
   deviation of the fitted values against the median σ the fits report.
2. emcee (``pip install emcee``; not an mpicg dependency): 32 walkers started from a Gaussian
   ball with mpicg's own covariance, 4000 steps, the first 1000 dropped, on each of the
   first ``--emcee-draws`` noise draws; -ln p = chi^2 / 2 inside the parameters' domains.
   Each chain's standard deviations against that draw's fit's σ: the posterior of a, inc
   and rp is a curved, narrow valley (a correlation near 0.99), where the curvature at the
   optimum (the Laplace approximation) can miss the width of the valley for a given draw.

tests/test_uncertainties.py runs the first check with 50 refits; this script is the
slower, tighter version (with 200 refits a ratio's own scatter is about 5 %).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mpicg
from mpicg.fitting import WithValues
from mpicg.models import BatmanTransit

NAMES = ["t0", "rp", "a", "inc"]
NOISE = 5e-4


def setup():
    model = WithValues(BatmanTransit(), (("inc", 87.13),))
    times = np.linspace(-0.12, 0.12, 400)
    clean = model(np.array(list(model.defaults.values())), times)
    return model, times, clean


def refits(model, times, clean, n: int, seed: int):
    rng = np.random.default_rng(seed)
    fitted, sigmas, verdicts = [], [], []
    for _ in range(n):
        flux = clean + rng.normal(0.0, NOISE, times.size)
        sol = mpicg.optimizer_cg(model, times, flux, np.full(times.size, NOISE),
                                 fit_parameters=NAMES, gtol=1e-3)
        verdicts.append(sol.diagnosis.verdict)
        if sol.uncertainties is None:
            continue
        fitted.append(sol.x)
        sigmas.append([sol.uncertainties[k] for k in NAMES])
    return np.array(fitted), np.array(sigmas), verdicts


def run_emcee(model, times, flux, solution, seed: int):
    import emcee

    domains = [model.domains[k] for k in NAMES]
    template = np.array(list(model.defaults.values()))
    index = [model.parameter_names.index(k) for k in NAMES]

    def log_probability(x):
        if not all(d.contains(v) for d, v in zip(domains, x, strict=True)):
            return -np.inf
        values = template.copy()
        values[index] = x
        r = (flux - model(values, times)) / NOISE
        return -0.5 * float(r @ r)

    rng = np.random.default_rng(seed)
    walkers = 32
    start = rng.multivariate_normal(solution.x, solution.covariance, size=walkers)
    sampler = emcee.EnsembleSampler(walkers, len(NAMES), log_probability)
    sampler.random_state = np.random.RandomState(seed).get_state()  # repeatable moves
    sampler.run_mcmc(start, 4000, progress=False)
    chain = sampler.get_chain(discard=1000, flat=True)
    tau = sampler.get_autocorr_time(discard=1000, quiet=True)
    return chain, tau, float(np.mean(sampler.acceptance_fraction))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refits", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-emcee", action="store_true")
    parser.add_argument("--emcee-draws", type=int, default=5)
    args = parser.parse_args()
    model, times, clean = setup()

    t0 = time.perf_counter()
    fitted, sigmas, verdicts = refits(model, times, clean, args.refits, args.seed)
    seconds = time.perf_counter() - t0
    spread = fitted.std(axis=0, ddof=1)
    median_sigma = np.median(sigmas, axis=0)
    counts = {v: verdicts.count(v) for v in sorted(set(verdicts))}
    print(f"{args.refits} refits to re-noised data in {seconds:.1f} s; diagnoses: {counts}; "
          f"{len(fitted)} with uncertainties")
    print("| parameter | spread of the refits | median σ reported | σ / spread |")
    print("|---|---|---|---|")
    for k, s, m in zip(NAMES, spread, median_sigma, strict=True):
        print(f"| {k} | {s:.4g} | {m:.4g} | {m / s:.3f} |")
    if args.no_emcee:
        return
    rng = np.random.default_rng(args.seed)
    print(f"\nemcee on the first {args.emcee_draws} draws (σ of the fit / the chain's "
          "standard deviation):")
    print("| draw | fit diagnosis | " + " | ".join(NAMES) + " | acceptance | autocorrelation "
          "times (steps) | correlation a-inc: chain, fit |")
    print("|---" * (len(NAMES) + 5) + "|")
    for draw in range(args.emcee_draws):
        flux = clean + rng.normal(0.0, NOISE, times.size)
        sol = mpicg.optimizer_cg(model, times, flux, np.full(times.size, NOISE),
                                 fit_parameters=NAMES, gtol=1e-3)
        chain, tau, acceptance = run_emcee(model, times, flux, sol, draw)
        std = chain.std(axis=0, ddof=1)
        sigma = np.array([sol.uncertainties[k] for k in NAMES])
        corr = np.corrcoef(chain.T)[2, 3]
        print(f"| {draw} | {sol.diagnosis.verdict} | "
              + " | ".join(f"{r:.2f}" for r in sigma / std)
              + f" | {acceptance:.2f} | {np.round(tau).astype(int).tolist()} | "
              f"{corr:+.3f}, {sol.correlation[2, 3]:+.3f} |")


if __name__ == "__main__":
    main()
