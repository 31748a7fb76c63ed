"""Parallel scaling of mpicg against scipy's CG, serial and with ``workers=``, in one run.

    python benchmarks/scaling.py [--max-ranks N | --ranks 1,2,4] [--repeats R] [--n-times T]
                                 [--resolution R] [--only all|mpicg]

The problem: a transit light curve (mpicg.models.TransitModel, numerically integrated, cost
uniform per time) fitted for (rp, inc) from a perturbed start, the same data and start for
every contender:

* ``mpicg N``        -- ``mpirun -n N``: every evaluation split over N ranks by time blocks;
* ``scipy``          -- ``scipy.optimize.minimize(method='CG')``, one process;
* ``scipy+workers N``-- the same with ``options={'workers': MPIPoolExecutor(N).map}``: the n
  points of a finite-difference gradient go to N worker processes, line-search values stay
  serial in the master (which sleeps meanwhile; it is not counted as a core);
* ``python``         -- mpicg started as ``python`` (no ``mpirun``) and without the malloc
  variables of RUN_ENV, as a user runs ``python fit.py``: mpicg sets glibc's thresholds
  itself (:func:`mpicg.parallel.tune_malloc`);
* ``python, glibc defaults`` -- the same with that call switched off (what such a run got
  before mpicg made it).

Each configuration runs as a fresh job; the configurations alternate within each repeat (so
drifts of a shared machine hit all alike) and the table quotes medians. Times are of the fit
alone (set-up, MPI start and worker spawn excluded). E(N) = T(mpicg 1) / (N T(mpicg N)) and
the serial runs' ratios are medians over the repeats of the ratio within each repeat (a busy
machine drifts by tens of per cent between repeats).
Every job gets the same environment (RUN_ENV: one thread per process, glibc malloc settings).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from _child import result_of  # noqa: E402

from mpicg.models import TransitModel  # noqa: E402
from mpicg.parallel import find_mpirun  # noqa: E402

# The same process environment for every contender. The malloc settings keep glibc from
# returning the model's large temporaries to the OS after every call and faulting them back
# in on the next (measured here: 29 ms per model call without, 19 ms with; a process that
# happens to import scipy gets the fast behaviour by accident). Same bits either way.
RUN_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MALLOC_MMAP_THRESHOLD_": "16777216", "MALLOC_TRIM_THRESHOLD_": "67108864"}

TRUTH = {"t0": 0.0, "rp": 0.1, "a": 8.0, "inc": 88.5}
X0 = np.array([0.09, 88.0])
GTOL = 1.0


class TwoParameterTransit:
    """The transit model with (rp, inc) free; picklable, for scipy's workers."""

    def __init__(self, resolution: int):
        self.transit = TransitModel(period=3.0, resolution=resolution)

    def __call__(self, x, times):
        return self.transit(np.array([TRUTH["t0"], x[0], TRUTH["a"], x[1]]), times)


class Chi2:
    """-ln L for scipy: 1/2 sum ((flux - model) / sigma)^2; picklable, for scipy's workers."""

    def __init__(self, model, times, flux, sigma):
        self.model, self.times, self.flux, self.sigma = model, times, flux, sigma

    def __call__(self, x):
        r = (self.flux - self.model(x, self.times)) / self.sigma
        return 0.5 * float(np.dot(r, r))


def make_data(n_times: int, resolution: int):
    model = TwoParameterTransit(resolution)
    one = np.linspace(-0.25, 0.25, n_times // 2)
    times = np.concatenate([one, one + 3.0])
    noise = 3e-4
    flux = model(np.array([TRUTH["rp"], TRUTH["inc"]]), times)
    flux = flux + np.random.default_rng(1).normal(0.0, noise, times.size)
    return model, times, flux, np.full(times.size, noise)


def child(kind: str, n_times: int, resolution: int, workers: int) -> None:
    """Run one fit and print one JSON line (from the process that owns the result)."""
    model, times, flux, sigma = make_data(n_times, resolution)
    if kind == "model":  # the model alone, 20 calls (the machine's own ceiling)
        t0 = time.perf_counter()
        for _ in range(20):
            model(X0, times)
        print("RESULT " + json.dumps({"seconds": (time.perf_counter() - t0) / 20}), flush=True)
        return
    if kind.startswith(("mpicg", "python")):
        import mpicg

        if kind == "python-untuned":
            import mpicg.parallel.run

            mpicg.parallel.run.tune_malloc = lambda: False
        problem = mpicg.Problem(model, times, flux, sigma)
        res = mpicg.fit(problem, X0, gtol=GTOL)
        if mpicg.parallel.is_root():
            print("RESULT " + json.dumps({"seconds": res.wall_time, "nit": res.nit,
                                          "nfev": res.nfev, "fun": res.fun,
                                          "status": res.status}), flush=True)
        return
    import scipy.optimize

    objective = Chi2(model, times, flux, sigma)
    options = {"gtol": GTOL}
    if kind == "scipy-workers":
        from mpi4py.futures import MPIPoolExecutor

        executor = MPIPoolExecutor(max_workers=workers)
        list(executor.map(objective, [X0] * (2 * workers)))  # workers up and warm
        options["workers"] = executor.map
    t0 = time.perf_counter()
    res = scipy.optimize.minimize(objective, X0, method="CG", options=options)
    seconds = time.perf_counter() - t0
    if kind == "scipy-workers":
        executor.shutdown()
    print("RESULT " + json.dumps({"seconds": seconds, "nit": int(res.nit),
                                  "nfev": int(res.nfev), "fun": float(res.fun),
                                  "status": int(res.status)}), flush=True)


def mpirun() -> str:
    return find_mpirun() or "mpirun"


def launch(kind: str, n: int, args) -> dict:
    me = [sys.executable, str(Path(__file__).resolve()), "--child", kind,
          "--n-times", str(args.n_times), "--resolution", str(args.resolution),
          "--workers", str(n)]
    if kind == "mpicg":
        cmd = [mpirun(), "-n", str(n), *me]
    elif kind == "scipy-workers":
        cmd = [mpirun(), "-n", "1", *me]  # the master spawns n workers
    else:
        cmd = me
    env = dict(os.environ, PYTHONPATH=f"{HERE}{os.pathsep}{ROOT}", **RUN_ENV)
    if kind.startswith("python"):  # as a user runs it: no malloc variables
        for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
            env.pop(name, None)
    return result_of(cmd, env, timeout=1800)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-ranks", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--ranks", help="rank counts to run, e.g. 1,2,4,8,16 (default: "
                        "1 to --max-ranks); 1 is always run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-times", type=int, default=2000)
    parser.add_argument("--resolution", type=int, default=20)
    parser.add_argument("--child", choices=["mpicg", "scipy", "scipy-workers", "python",
                                            "python-untuned", "model"])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--only", choices=["all", "mpicg"], default="all",
                        help="'mpicg': only mpicg's runs (N = 1..max and the two serial "
                             "`python` runs), for more repeats in the same time")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.n_times, args.resolution, args.workers)
        return

    ranks = (sorted({1, *(int(v) for v in args.ranks.split(","))}) if args.ranks
             else list(range(1, args.max_ranks + 1)))
    configs = ([("mpicg", n) for n in ranks] + [("scipy", 1)]
               + [("scipy-workers", n) for n in ranks]
               + [("python", 1), ("python-untuned", 1)])
    if args.only == "mpicg":
        configs = [c for c in configs if not c[0].startswith("scipy")]
    model, times, _, _ = make_data(args.n_times, args.resolution)
    t0 = time.perf_counter()
    for _ in range(5):
        model(X0, times)
    per_call = (time.perf_counter() - t0) / 5
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, {platform.processor() or '?'}"
          f", Python {platform.python_version()}")
    print(f"problem: {times.size} times, TransitModel resolution {args.resolution}: "
          f"{per_call * 1e3:.1f} ms per model call on all times (in this driver process, "
          f"without RUN_ENV); {args.repeats} repeats, "
          "configurations alternating", flush=True)
    # What the machine itself gives: the model alone in 1 process, and in N at once.
    ceiling = {}
    for n in ranks:
        me = [sys.executable, str(Path(__file__).resolve()), "--child", "model",
              "--n-times", str(args.n_times), "--resolution", str(args.resolution)]
        env = dict(os.environ, PYTHONPATH=f"{HERE}{os.pathsep}{ROOT}", **RUN_ENV)
        procs = [subprocess.Popen(me, stdout=subprocess.PIPE, text=True, env=env)
                 for _ in range(n)]
        ceiling[n] = statistics.mean(json.loads(p.communicate()[0].split("RESULT ")[1])
                                     ["seconds"] for p in procs)
    print("the model alone, ms per call with N processes at once: "
          + ", ".join(f"N={n}: {ceiling[n] * 1e3:.1f}" for n in ranks)
          + " (the machine's ceiling for E(N): "
          + ", ".join(f"{ceiling[1] / ceiling[n]:.2f}" for n in ranks) + ")", flush=True)
    runs: dict = {c: [] for c in configs}
    for rep in range(args.repeats):
        order = configs if rep % 2 == 0 else configs[::-1]
        for kind, n in order:
            runs[(kind, n)].append(launch(kind, n, args))
        print(f"  repeat {rep + 1}/{args.repeats} done", flush=True)

    med = {c: statistics.median(r["seconds"] for r in runs[c]) for c in configs}

    def ratio(config, n=1):
        """Median over repeats of T(mpicg, 1) / (n T(config)), each from the same repeat."""
        return statistics.median(a["seconds"] / (n * b["seconds"])
                                 for a, b in zip(runs[("mpicg", 1)], runs[config],
                                                 strict=True))

    print()
    if args.only == "all":
        print("| N | mpicg (s) | E(N) mpicg | scipy CG serial (s) | scipy CG + workers=N (s) "
              "| mpicg vs scipy+workers |")
        print("|---|---|---|---|---|---|")
        for n in ranks:
            tm, tw = med[("mpicg", n)], med[("scipy-workers", n)]
            print(f"| {n} | {tm:.2f} | {ratio(('mpicg', n), n):.2f} | {med[('scipy', 1)]:.2f} "
                  f"| {tw:.2f} | {tw / tm:.2f}x faster |")
    else:
        print("| N | mpicg (s) | E(N) mpicg |")
        print("|---|---|---|")
        for n in ranks:
            print(f"| {n} | {med[('mpicg', n)]:.2f} | {ratio(('mpicg', n), n):.2f} |")
    print()
    print("| serial run | seconds | vs mpirun -n 1 |")
    print("|---|---|---|")
    for kind, label in (("mpicg", "`mpirun -n 1` (RUN_ENV malloc variables)"),
                        ("python", "`python fit.py` (mpicg sets them)"),
                        ("python-untuned", "`python fit.py`, glibc defaults")):
        print(f"| {label} | {med[(kind, 1)]:.2f} | {1 / ratio((kind, 1)):.3f} |")
    print()
    for c in configs:
        r = runs[c][0]
        print(f"{c[0]:>14s} N={c[1]}: nit {r['nit']}, nfev {r['nfev']}, -ln L {r['fun']:.6f}, "
              f"status {r['status']}; all times {[round(x['seconds'], 2) for x in runs[c]]}")


if __name__ == "__main__":
    main()
