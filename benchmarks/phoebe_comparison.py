"""PHOEBE's own CG optimizer against mpicg.fit on the same PHOEBE light curve, in one run.

    python benchmarks/phoebe_comparison.py [--ranks 2] [--skip-phoebe] [--natural-units]

The problem: PHOEBE 2.5 ``default_binary()`` (default mesh, 1500 triangles per star) with
blackbody atmospheres, manual logarithmic limb darkening (0.7, 0.2) and no irradiation
(``mpicg.models.phoebe_adapter.blackbody_binary``: computable offline); 41 times over one
orbital period; synthetic fluxes at the truth incl@binary = 86 deg, requiv@secondary = 1.0
solRad plus Gaussian noise of sigma 0.002 (seed 2024), sigmas 0.002; both parameters fitted
from 84 deg / 0.95 solRad.

* PHOEBE ``optimizer.cg``: ``b.add_solver('optimizer.cg', ...)`` and ``b.run_solver()`` with
  PHOEBE's defaults (scipy's CG: forward differences with relative steps of 1.5e-8, gtol
  1e-5), serially in this process. Its model evaluations are counted by wrapping
  ``Bundle.run_compute``.
* mpicg: ``mpicg.fit`` on a :class:`~mpicg.models.phoebe_adapter.PhoebeLightCurve`, started
  as ``mpirun -n RANKS`` (the mpirun beside this Python); every rank computes its chunk of
  the 41 times for every point.

How mpicg's settings were chosen (the script measures and prints each quantity):

* PHOEBE's mesh makes -ln L jitter as the parameters move (the triangles the other star
  covers change in jumps with incl; the mesh itself changes with requiv). The jitter J grows
  with the residuals: about 1.5 at the start, a few hundredths near the minimum (measured at
  mpicg's solution). At the start, PHOEBE's steps of 1.3e-6 deg and 1.5e-8 solRad change
  -ln L by about 0.05, far less than J: its gradient is noise.
* The parameters' uncertainties differ a hundredfold in PHOEBE's units (sigma_incl ~ 0.02
  deg, sigma_requiv ~ 2e-4 solRad), and gtol bounds the largest gradient component, while a
  gradient g moves a parameter by about g sigma^2, i.e. g sigma in units of its sigma. So the
  fit runs on x / sigma(x0) (:class:`Scaled`; sigma(x0) from the curvature at the start, 5
  model calls): every variable has an uncertainty of about 1 and one gtol and one relative
  step serve both.
* Steps: central differences (``jac='3-point'``), ``finite_diff_rel_step=1e-4`` on variables
  of about 1e4, i.e. about one sigma(x0) (0.0084 deg, 9.5e-5 solRad at the start): -ln L
  changes by about 0.5 over a step, far above J, so the gradient's noise is about J per
  component; forward differences would be biased by half a step (half a sigma).
* gtol = 0.25 on x / sigma(x0): stop within about a quarter of sigma(x0) of the minimum,
  by the curvature at the start; the curvature at the solution is about 4 times lower here,
  so within about half a sigma there. The jitter puts a floor of about sqrt(2 J) / sigma
  (about 0.2 in these variables) under the gradient a line search can reach (it cannot tell
  apart points whose -ln L differ by less than J): a much tighter gtol ends in "precision
  loss" (status 2) instead of success.
* ``--natural-units`` also runs the same fit on incl and requiv themselves, with relative
  steps of 1e-4 and 1e-3 (0.0084 deg and 0.00095 solRad at the start) and gtol = 0.25 /
  sigma_incl(x0): right for incl, about a hundred times below the jitter's floor for requiv.

sigma for the report: the Hessian of -ln L at mpicg's solution by central second differences
(9 model calls) with steps HESSIAN_STEPS (about one to three sigma, far above the jitter);
sigma = sqrt(diag(H^-1)).

Times: wall-clock seconds of the fit alone (PHOEBE: ``run_solver``; mpicg: ``fit`` on
rank 0, MPI start-up and bundle set-up excluded). On a shared 2-core machine they are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from mpicg.models.phoebe_adapter import (  # noqa: E402
    PhoebeLightCurve,
    blackbody_binary,
    import_phoebe,
)
from mpicg.parallel import find_mpirun  # noqa: E402

TWIGS = ["incl@binary", "requiv@secondary"]
TRUTH = np.array([86.0, 1.0])
X0 = np.array([84.0, 0.95])
N_TIMES = 41
NOISE = 0.002
SEED = 2024
# mpicg's gradient: central differences (jac='3-point'), h = rel_step * |variable|. The fit
# variables are x / sigma(x0), about 1e4 here, so 1e-4 is a step of about one sigma(x0).
REL_STEP_SCALED = 1e-4
# A gradient component g of a variable of uncertainty ~1 moves it by ~g: stop within
# a quarter sigma(x0) of the minimum in every parameter (half a sigma at the solution here,
# where the curvature is lower); not much above the floor the mesh's jitter sets.
GTOL_SCALED = 0.25
# --natural-units: the same fit on incl (deg) and requiv (solRad) themselves; steps of
# 0.0084 deg and 0.00095 solRad at the start, gtol = GTOL_SCALED / sigma_incl(x0): the same
# criterion for incl, far below the jitter's floor for requiv.
REL_STEP_NATURAL = np.array([1e-4, 1e-3])
# Steps of the curvature estimates: one to three sigma at the solution, far above the jitter.
HESSIAN_STEPS = np.array([0.02, 5e-4])
# One thread per process, as in benchmarks/scaling.py: ranks must not fight over cores.
RUN_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def make_model() -> PhoebeLightCurve:
    times = observation_times()
    # invalid="inf": a line-search trial where PHOEBE rejects the system (an overflowing
    # star) gets -ln L = +inf and the line search backs off, as in PHOEBE's own optimizers.
    return PhoebeLightCurve(blackbody_binary, TWIGS, reference_time=times[0], invalid="inf")


def observation_times() -> np.ndarray:
    return np.linspace(0.0, 1.0, N_TIMES)  # one period of the default binary (1 d)


def neg_log_like(model, x, times, flux) -> float:
    r = (flux - model(x, times)) / NOISE
    return 0.5 * float(r @ r)


def hessian(f, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Central second differences (1 + 2n + 2n(n-1) evaluations)."""
    n = x.size
    f0 = f(x)
    e = np.eye(n) * h
    plus = [f(x + e[i]) for i in range(n)]
    minus = [f(x - e[i]) for i in range(n)]
    H = np.empty((n, n))
    for i in range(n):
        H[i, i] = (plus[i] - 2 * f0 + minus[i]) / h[i] ** 2
        for j in range(i + 1, n):
            H[i, j] = H[j, i] = (f(x + e[i] + e[j]) - f(x + e[i] - e[j])
                                 - f(x - e[i] + e[j]) + f(x - e[i] - e[j])) / (4 * h[i] * h[j])
    return H


# -- PHOEBE's own optimizer -----------------------------------------------------------------

def run_phoebe_solver(times, flux) -> dict:
    phoebe = import_phoebe()
    b = blackbody_binary()
    b.set_value(qualifier="times", dataset="lc01", context="dataset", value=times)
    b.set_value(qualifier="fluxes", dataset="lc01", context="dataset", value=flux)
    b.set_value(qualifier="sigmas", dataset="lc01", context="dataset",
                value=np.full(times.size, NOISE))
    b.add_solver("optimizer.cg", solver="cg_solver", fit_parameters=TWIGS,
                 initial_values=dict(zip(TWIGS, X0.tolist(), strict=True)))
    calls = [0]
    original = phoebe.frontend.bundle.Bundle.run_compute

    def counting(self, *args, **kwargs):
        calls[0] += 1
        return original(self, *args, **kwargs)

    phoebe.frontend.bundle.Bundle.run_compute = counting
    try:
        t0 = time.perf_counter()
        b.run_solver(solver="cg_solver", solution="cg_solution", progressbar=False)
        seconds = time.perf_counter() - t0
    finally:
        phoebe.frontend.bundle.Bundle.run_compute = original
    sol = b.filter(solution="cg_solution", context="solution")
    return {"seconds": seconds, "x": [float(v) for v in sol.get_value("fitted_values")],
            "message": str(sol.get_value("message")), "nit": int(sol.get_value("niter")),
            "success": bool(sol.get_value("success")), "nfev": calls[0]}


# -- mpicg, in the MPI job ------------------------------------------------------------------

class Scaled:
    """``model(u * scale, times)``: the fitted variables in units of ``scale``.

    Diagonal preconditioning for CG: with ``scale`` the parameters' uncertainties, every
    variable has an uncertainty of about 1, so that one ``gtol`` (a bound on the largest
    gradient component) and one relative step mean the same for every parameter.
    """

    def __init__(self, model, scale):
        self.model, self.scale = model, np.asarray(scale, dtype=float)

    def __call__(self, u, times):
        return self.model(np.asarray(u) * self.scale, times)


def child(data_path: str, variant: str, gtol: float) -> None:
    """One rank of the mpicg job: every rank fits; rank 0 prints one RESULT line."""
    import mpicg

    data = np.load(data_path)
    if variant == "scaled":
        scale = data["scale"]
        model, x0, rel_step = Scaled(make_model(), scale), X0 / scale, REL_STEP_SCALED
    else:
        scale = np.ones(X0.size)
        model, x0, rel_step = make_model(), X0, REL_STEP_NATURAL
    problem = mpicg.Problem(model, data["times"], data["flux"], data["sigma"])
    res = mpicg.fit(problem, x0, jac="3-point", finite_diff_rel_step=rel_step, gtol=gtol)
    rank = int(os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")))
    if rank == 0:
        print("RESULT " + json.dumps({
            "seconds": res.wall_time, "x": (res.x * scale).tolist(), "fun": float(res.fun),
            "jac": (res.jac / scale).tolist(), "jac_fitted": res.jac.tolist(),
            "nit": int(res.nit), "nfev": int(res.nfev), "njev": int(res.njev),
            "status": int(res.status), "message": res.message, "n_ranks": int(res.n_ranks),
            "time_model": res.time_model, "time_waiting": res.time_waiting,
            "rounds": int(res.rounds), "gtol": gtol, "rel_step": np.ravel(rel_step).tolist(),
            "steps": (np.abs(x0 * rel_step) * scale).tolist()}), flush=True)


def mpirun() -> str:
    return find_mpirun() or "mpirun"


def run_mpicg(ranks: int, data_path: str, variant: str, gtol: float) -> dict:
    cmd = [mpirun(), "-n", str(ranks), sys.executable, str(Path(__file__).resolve()),
           "--child", data_path, "--variant", variant, "--gtol", repr(float(gtol))]
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               **RUN_ENV)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    job_seconds = time.perf_counter() - t0
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
            result["job_seconds"] = job_seconds
            return result
    raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")


# -- the comparison -------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", type=int, default=2, help="mpirun -n for mpicg")
    parser.add_argument("--skip-phoebe", action="store_true",
                        help="skip PHOEBE's own optimizer (minutes)")
    parser.add_argument("--natural-units", action="store_true",
                        help="also fit in PHOEBE's units, without scaling (minutes)")
    parser.add_argument("--child", metavar="DATA", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="scaled", help=argparse.SUPPRESS)
    parser.add_argument("--gtol", type=float, default=GTOL_SCALED, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.variant, args.gtol)
        return
    for k, v in RUN_ENV.items():
        os.environ.setdefault(k, v)

    phoebe = import_phoebe()
    print(f"machine: {platform.node()}, {os.cpu_count()} cores; Python "
          f"{platform.python_version()}, PHOEBE {phoebe.__version__}", flush=True)
    model = make_model()
    times = observation_times()
    t0 = time.perf_counter()
    truth_flux = model(TRUTH, times)
    per_call = time.perf_counter() - t0
    flux = truth_flux + np.random.default_rng(SEED).normal(0.0, NOISE, times.size)
    sigma = np.full(times.size, NOISE)
    print(f"problem: {times.size} times over one period, default mesh; one model call on all "
          f"times: {per_call:.2f} s (serial)", flush=True)

    def f(x):
        return neg_log_like(model, x, times, flux)

    # The scales: each parameter's uncertainty at the start, 1/sqrt of the curvature of
    # -ln L along it (4 more model calls).
    f_x0 = f(X0)
    curv = np.array([(f(X0 + e) - 2 * f_x0 + f(X0 - e)) / h ** 2
                     for h, e in zip(HESSIAN_STEPS, np.diag(HESSIAN_STEPS), strict=True)])
    scale = 1 / np.sqrt(np.abs(curv))
    print(f"sigma(x0) from the curvature at the start: {scale.tolist()}; fit variables "
          f"x / sigma(x0) start at {(X0 / scale).round(1).tolist()}", flush=True)
    results = {}
    if not args.skip_phoebe:
        print("running PHOEBE's optimizer.cg (serial, in this process) ...", flush=True)
        res = run_phoebe_solver(times, flux)
        res["fun"] = f(np.array(res["x"]))
        results["phoebe"] = res
        print(f"  {res}", flush=True)

    variants = [("scaled", GTOL_SCALED)]
    if args.natural_units:
        variants.append(("natural", GTOL_SCALED / scale[0]))
    with tempfile.TemporaryDirectory() as tmp:
        data_path = str(Path(tmp) / "data.npz")
        np.savez(data_path, times=times, flux=flux, sigma=sigma, scale=scale)
        for variant, gtol in variants:
            print(f"running mpicg.fit ({variant}) under mpirun -n {args.ranks} ...", flush=True)
            results[variant] = run_mpicg(args.ranks, data_path, variant, gtol)
            print(f"  {results[variant]}", flush=True)

    x = np.array(results["scaled"]["x"])
    H = hessian(f, x, HESSIAN_STEPS)
    cov = np.linalg.inv(H)
    sig = np.sqrt(np.diag(cov))
    corr = cov[0, 1] / (sig[0] * sig[1])
    print(f"Hessian of -ln L at mpicg's solution (steps {HESSIAN_STEPS.tolist()}): "
          f"{H.tolist()}; sigma = sqrt(diag(H^-1)) = {sig.tolist()}, correlation "
          f"{corr:.3f}; -ln L at the truth: {f(TRUTH):.4f}", flush=True)
    for res in results.values():
        res["pulls"] = ((np.array(res["x"]) - TRUTH) / sig).tolist()
    # The mesh's jitter near the minimum (it grows with the residuals, so it is measured at
    # the solution): -ln L at 7 points 0.25 sigma apart along each parameter, less a
    # quadratic fitted to them (12 more model calls).
    ks = np.arange(-3, 4)
    f_x = f(x)
    jitter = []
    for i in range(x.size):
        vals = np.array([f_x if k == 0 else f(x + k * 0.25 * sig[i] * np.eye(x.size)[i])
                         for k in ks])
        resid = vals - np.polyval(np.polyfit(ks * 0.25, vals, 2), ks * 0.25)
        jitter.append(float(np.sqrt(np.sum(resid ** 2) / (ks.size - 3))))
    print(f"jitter of -ln L at mpicg's solution (rms about a quadratic over +-0.75 sigma): "
          f"{jitter}", flush=True)

    names = {"phoebe": "PHOEBE 2.5 `optimizer.cg` (1 process)",
             "scaled": f"mpicg.fit (`mpirun -n {args.ranks}`)",
             "natural": f"mpicg.fit, unscaled (`mpirun -n {args.ranks}`)"}
    cols = list(results)

    def row(label, cell):
        print(f"| {label} | " + " | ".join(cell(results[c], c) for c in cols) + " |")

    def settings(r, c):
        if c == "phoebe":
            return "scipy CG defaults: forward differences, h = 1.5e-8 max(1, \\|x\\|); gtol 1e-5"
        h, rel = r["steps"], r["rel_step"]
        on = " on x / σ(x0)" if c == "scaled" else ""
        return (f"`jac='3-point'`{on}, rel. step {rel if len(rel) > 1 else rel[0]} (h = "
                f"{h[0]:.2g} deg, {h[1]:.2g} solRad at x0); gtol {r['gtol']:.3g}{on}")

    print()
    print("| | " + " | ".join(names[c] for c in cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    row("wall time (s)", lambda r, c: f"{r['seconds']:.1f}")
    row("incl@binary (deg), truth 86", lambda r, c: f"{r['x'][0]:.4f}")
    row("requiv@secondary (solRad), truth 1", lambda r, c: f"{r['x'][1]:.5f}")
    row("(fit − truth) / σ", lambda r, c: ", ".join(f"{p:+.2f}" for p in r["pulls"]))
    row("−ln L = χ²/2", lambda r, c: f"{r['fun']:.3f}")
    row("iterations (nit)", lambda r, c: str(r["nit"]))
    row("model evaluations (nfev)", lambda r, c: str(r["nfev"]))
    row("status / message", lambda r, c: (r["message"] if c == "phoebe"
                                          else f"{r['status']}: {r['message']}"))
    row("settings", settings)
    print()
    # In the fitted variables x / sigma(x0) the uncertainties are sig / scale; a gradient g
    # there is g * (sig / scale) sigmas from the minimum, and the jitter J leaves a gradient
    # of about sqrt(2 J) / (sig / scale) that no line search can reduce.
    sig_u = sig / scale
    floor = np.sqrt(2 * np.array(jitter)) / sig_u
    g_end = np.abs(results["scaled"]["jac_fitted"])
    print(f"Steps and gtol: near the minimum the mesh makes −ln L jitter by J = "
          f"{jitter[0]:.3f} (incl) and {jitter[1]:.3f} (requiv). mpicg fits x / σ(x0), "
          f"σ(x0) = ({scale[0]:.4f} deg, {scale[1]:.2e} solRad) from the curvature at the "
          f"start, with central differences of about one σ(x0), over which −ln L changes by "
          f"about 0.5 ≫ J. In these variables σ = {sig_u.round(2).tolist()} at the solution, "
          f"so gtol {GTOL_SCALED} stops within about gtol·σ = "
          f"{(GTOL_SCALED * sig_u).round(2).tolist()} σ of the minimum; the jitter's floor "
          f"sqrt(2J)/σ is {floor.round(2).tolist()} (a gtol far below it ends in precision "
          f"loss, as the unscaled fit does for requiv); "
          f"the final gradient {g_end.round(3).tolist()} is "
          f"{(g_end * sig_u).round(2).tolist()} σ.")
    print(f"σ = sqrt(diag(H⁻¹)) from the Hessian of −ln L at mpicg's solution (central "
          f"differences, steps {HESSIAN_STEPS[0]} deg and {HESSIAN_STEPS[1]} solRad): "
          f"σ_incl = {sig[0]:.4f} deg, σ_requiv = {sig[1]:.5f} solRad, correlation "
          f"{corr:.2f}; −ln L at the truth {f(TRUTH):.3f}.")
    pulls = np.array(results["scaled"]["pulls"])
    print(f"mpicg is {'within' if np.all(np.abs(pulls) <= 3) else 'NOT within'} 3σ of the "
          f"truth: (fit − truth) / σ = {pulls.round(2).tolist()}.")
    r = results["scaled"]
    print(f"mpicg: model time per rank {[round(t, 1) for t in r['time_model']]} s, waiting "
          f"{[round(t, 1) for t in r['time_waiting']]} s, {r['rounds']} rounds; whole job "
          f"with MPI start-up and bundle set-up {r['job_seconds']:.1f} s.")


if __name__ == "__main__":
    main()
