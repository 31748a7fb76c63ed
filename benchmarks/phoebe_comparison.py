"""PHOEBE's own CG optimizer against mpicg.optimizer_cg on the same PHOEBE light curve, in one run.

    python benchmarks/phoebe_comparison.py [--ranks 2] [--skip-phoebe] [--unscaled]
                                           [--gtol G]

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
* mpicg: :func:`mpicg.optimizer_cg` on a
  :class:`~mpicg.models.phoebe_adapter.PhoebeLightCurve`, started as ``mpirun -n RANKS``
  (the mpirun beside this Python), with mpicg's defaults: parameters scaled by the
  curvature at the start (``scale="auto"``), default steps (half a scale), default gtol
  (1e-5, PHOEBE's), uncertainties from the Hessian at the solution. The one setting given is
  ``fd_scheme="central"``: PHOEBE's mesh makes -ln L jitter as the parameters move, and
  forward differences would be biased by half a step. Every rank computes its chunk of the
  41 times for every point.
* ``--unscaled``: the same fit with ``scale="none"`` (PHOEBE's unscaled semantics, steps of
  1e-4 and 1e-3 of the start values, gtol 1e-5), to show what scaling changes.

σ in the table: mpicg's own (``Solution.uncertainties``, the Hessian at its solution). The
script also measures the mesh's jitter at mpicg's solution (-ln L at 7 points 0.25 σ
apart along each parameter, less a fitted quadratic), which sets how close to the minimum
any gradient-based fit can get.

Times: wall-clock seconds of the fit alone (PHOEBE: ``run_solver``; mpicg: the
``optimizer_cg`` call on rank 0, its scales and uncertainties included, MPI start-up and
bundle set-up excluded). On a shared 2-core machine they are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from _child import result_of  # noqa: E402

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
# --unscaled: PHOEBE's own units, relative steps of 1e-4 and 1e-3 (0.0084 deg and 0.00095
# solRad at the start).
REL_STEP_UNSCALED = (1e-4, 1e-3)
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

def child(data_path: str, variant: str, gtol: float | None) -> None:
    """One rank of the mpicg job: every rank fits; rank 0 prints one RESULT line."""
    import mpicg

    data = np.load(data_path)
    options = {} if gtol is None else {"gtol": gtol}
    if variant == "unscaled":
        options.update(scale="none", steps={t: mpicg.Step(r, "relative") for t, r in
                                            zip(TWIGS, REL_STEP_UNSCALED, strict=True)})
    sol = mpicg.optimizer_cg(make_model(), data["times"], data["flux"], data["sigma"],
                             fit_parameters=TWIGS,
                             initial_values=dict(zip(TWIGS, X0.tolist(), strict=True)),
                             fd_scheme="central", **options)
    rank = int(os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")))
    if rank == 0:
        print("RESULT " + json.dumps({
            "seconds": sol.wall_time, "x": sol.x.tolist(), "fun": sol.fun,
            "sigma": None if sol.uncertainties is None else [sol.uncertainties[t]
                                                             for t in TWIGS],
            "correlation": None if sol.correlation is None else float(sol.correlation[0, 1]),
            "nit": sol.nit, "nfev": sol.nfev, "nfev_scales": sol.nfev_scales,
            "nfev_uncertainties": sol.nfev_uncertainties, "status": sol.status,
            "message": sol.message, "diagnosis": str(sol.diagnosis),
            "scales": [sol.scales[t] for t in TWIGS], "n_ranks": sol.n_ranks,
            "rounds": sol.rounds, "gtol": sol.options["gtol"],
            "steps": sol.options["steps"]}), flush=True)


def mpirun() -> str:
    return find_mpirun() or "mpirun"


def run_mpicg(ranks: int, data_path: str, variant: str, gtol: float | None) -> dict:
    cmd = [mpirun(), "-n", str(ranks), sys.executable, str(Path(__file__).resolve()),
           "--child", data_path, "--variant", variant]
    if gtol is not None:
        cmd += ["--gtol", repr(float(gtol))]
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               **RUN_ENV)
    t0 = time.perf_counter()
    result = result_of(cmd, env, timeout=3600, tail=3000)
    result["job_seconds"] = time.perf_counter() - t0
    return result


# -- the comparison -------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", type=int, default=2, help="mpirun -n for mpicg")
    parser.add_argument("--skip-phoebe", action="store_true",
                        help="skip PHOEBE's own optimizer (minutes)")
    parser.add_argument("--unscaled", action="store_true",
                        help="also fit with scale='none', in PHOEBE's units (minutes)")
    parser.add_argument("--gtol", type=float, default=None,
                        help="mpicg's gtol (default: optimizer_cg's, 1e-5)")
    parser.add_argument("--child", metavar="DATA", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="scaled", help=argparse.SUPPRESS)
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

    results = {}
    if not args.skip_phoebe:
        print("running PHOEBE's optimizer.cg (serial, in this process) ...", flush=True)
        res = run_phoebe_solver(times, flux)
        res["fun"] = f(np.array(res["x"]))
        results["phoebe"] = res
        print(f"  {res}", flush=True)

    variants = ["scaled"] + (["unscaled"] if args.unscaled else [])
    with tempfile.TemporaryDirectory() as tmp:
        data_path = str(Path(tmp) / "data.npz")
        np.savez(data_path, times=times, flux=flux, sigma=sigma)
        for variant in variants:
            print(f"running mpicg.optimizer_cg ({variant}) under mpirun -n {args.ranks} ...",
                  flush=True)
            results[variant] = run_mpicg(args.ranks, data_path, variant, args.gtol)
            print(f"  {results[variant]}", flush=True)

    mine = results["scaled"]
    if mine["sigma"] is None:
        raise SystemExit(f"mpicg reported no uncertainties: {mine['diagnosis']}")
    sig = np.array(mine["sigma"])
    x = np.array(mine["x"])
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
          f"{jitter}; -ln L at the truth {f(TRUTH):.4f}", flush=True)

    names = {"phoebe": "PHOEBE 2.5 `optimizer.cg` (1 process)",
             "scaled": f"mpicg.optimizer_cg, defaults (`mpirun -n {args.ranks}`)",
             "unscaled": f"mpicg.optimizer_cg, `scale='none'` (`mpirun -n {args.ranks}`)"}
    cols = list(results)

    def row(label, cell):
        print(f"| {label} | " + " | ".join(cell(results[c], c) for c in cols) + " |")

    def evaluations(r, c):
        if c == "phoebe":
            return str(r["nfev"])
        return (f"{r['nfev']} (+ {r['nfev_scales']} scales, {r['nfev_uncertainties']} "
                "uncertainties)")

    def settings(r, c):
        if c == "phoebe":
            return "scipy CG defaults: forward differences, h = 1.5e-8 max(1, \\|x\\|); gtol 1e-5"
        steps = "default steps (s / 2)" if not r["steps"] else "rel. steps 1e-4, 1e-3"
        scale = ("scale 'auto': s = " + ", ".join(f"{v:.2g}" for v in r["scales"])
                 if c == "scaled" else "scale 'none'")
        return f"central differences, {steps}; {scale}; gtol {r['gtol']:g}"

    print()
    print("| | " + " | ".join(names[c] for c in cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    row("wall time (s)", lambda r, c: f"{r['seconds']:.1f}")
    row("incl@binary (deg), truth 86", lambda r, c: f"{r['x'][0]:.4f}"
        + (f" ± {r['sigma'][0]:.4f}" if r.get("sigma") else ""))
    row("requiv@secondary (solRad), truth 1", lambda r, c: f"{r['x'][1]:.5f}"
        + (f" ± {r['sigma'][1]:.5f}" if r.get("sigma") else ""))
    row("(fit − truth) / σ", lambda r, c: ", ".join(f"{p:+.2f}" for p in r["pulls"]))
    row("−ln L = χ²/2", lambda r, c: f"{r['fun']:.3f}")
    row("iterations (nit)", lambda r, c: str(r["nit"]))
    row("model evaluations", evaluations)
    row("status / message", lambda r, c: (r["message"] if c == "phoebe"
                                          else f"{r['status']}: {r['message']}"))
    row("diagnosis", lambda r, c: "—" if c == "phoebe" else r["diagnosis"])
    row("settings", settings)
    print()
    print(f"σ (mpicg, from the Hessian at its solution): σ_incl = {sig[0]:.4f} deg, "
          f"σ_requiv = {sig[1]:.5f} solRad, correlation {mine['correlation']:.2f}; the mesh's "
          f"jitter of −ln L near the minimum: {jitter[0]:.3f} (incl), {jitter[1]:.3f} "
          f"(requiv); −ln L at the truth {f(TRUTH):.3f}.")
    pulls = np.array(mine["pulls"])
    print(f"mpicg is {'within' if np.all(np.abs(pulls) <= 3) else 'NOT within'} 3σ of the "
          f"truth: (fit − truth) / σ = {pulls.round(2).tolist()}.")
    print(f"mpicg: {mine['rounds']} rounds; whole job with MPI start-up and bundle set-up "
          f"{mine['job_seconds']:.1f} s.")


if __name__ == "__main__":
    main()
