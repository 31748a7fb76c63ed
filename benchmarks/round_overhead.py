"""What a collective round costs beyond the model, at N = 1, 2, 4, against MPI's own floor.

    python benchmarks/round_overhead.py [--ranks 1,2,4] [--repeats 5] [--fits 3]

A near-free model (a Gaussian dip and a sine on 1,000 times: about 0.03 ms per call, like
batman's 0.03 ms per 1,000 times) with 4 parameters, so that a round is almost all
overhead. Two measurements per job:

* **fit**: ``mpicg.fit`` with forward differences from a far start (batches of 5, 4 or 1
  points), ``--fits`` fits in a row. A round's time runs from the start of one evaluation on
  rank 0 to the start of the next (the evaluator's ``evaluate`` is wrapped to note the
  time), so it includes rank 0's optimizer step between rounds, which the serial run has
  too; MPI start-up and the fit's set-up are not in it. Two statistics over all rounds but
  each fit's first: the median (a round as it usually goes: on a shared machine a process
  is now and then descheduled for milliseconds, and a round of two processes is hit twice
  as often) and the mean (stalls included).
* **floor** (N >= 2): MPI alone doing what a round needs, with blocking calls: ``Bcast`` of
  the round's message (64 numbers) and ``Gatherv`` of every rank's share of the sums of a
  batch of 5 points (5 x 1,000 / N numbers each, plus 5), 2,000 times; median and mean.

Every configuration is a fresh job (``python`` for N = 1, ``mpirun -n N`` otherwise); the
configurations alternate within each repeat and the tables quote medians.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from _child import result_of  # noqa: E402

from mpicg.parallel import find_mpirun  # noqa: E402

N_TIMES = 1000
X0 = np.array([0.03, 4.0, 0.6, 0.01])
RUN_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def model(x, times):
    """A cheap light curve: a Gaussian dip and a sine trend."""
    depth, t0, width, slope = x
    return 1.0 - depth * np.exp(-0.5 * ((times - t0) / width) ** 2) + slope * np.sin(times)


def floor(comm, n_points: int = 5, repeats: int = 2000) -> list[float]:
    """Seconds of each of ``repeats`` rounds of bare blocking Bcast + Gatherv."""
    from mpi4py import MPI

    size, rank = comm.Get_size(), comm.Get_rank()
    counts = [n_points * (hi - lo) + 5 for lo, hi in
              ((N_TIMES * r // size, N_TIMES * (r + 1) // size) for r in range(size))]
    displs = np.concatenate([[0], np.cumsum(counts)[:-1]]).tolist()
    message, send = np.zeros(64), np.zeros(counts[rank])
    gathered = np.empty(sum(counts)) if rank == 0 else None
    comm.Barrier()
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        comm.Bcast(message, root=0)
        comm.Gatherv(send, [gathered, counts, displs, MPI.DOUBLE] if rank == 0 else None,
                     root=0)
        seconds.append(time.perf_counter() - t0)
    return seconds


def child(fits: int) -> None:
    import mpicg
    from mpicg.parallel.mpi import MPIEvaluator
    from mpicg.parallel.serial import SerialEvaluator

    rng = np.random.default_rng(3)
    times = np.linspace(0.0, 10.0, N_TIMES)
    flux = model(np.array([0.02, 5.0, 0.3, 0.001]), times) + rng.normal(0, 1e-3, N_TIMES)
    problem = mpicg.Problem(model, times, flux, np.full(N_TIMES, 1e-3))
    comm, rank, size = None, 0, 1
    if (mpicg.parallel.launch_size() or 1) > 1:
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
        rank, size = comm.Get_rank(), comm.Get_size()
    starts: list[float] = []
    for cls in (SerialEvaluator, MPIEvaluator):  # note when each round starts (rank 0)
        def timed(self, points, _evaluate=cls.evaluate):
            starts.append(time.perf_counter())
            return _evaluate(self, points)

        cls.evaluate = timed
    rounds = []
    for _ in range(fits):
        starts.clear()
        res = mpicg.fit(problem, X0, gtol=1e-6)
        rounds += [b - a for a, b in itertools.pairwise(starts[1:])]
    result = {"median": statistics.median(rounds) if rank == 0 else None,
              "mean": statistics.mean(rounds) if rank == 0 else None, "rounds": res.rounds}
    if size > 1:
        seconds = floor(comm)
        result["floor"] = [statistics.median(seconds), statistics.mean(seconds)]
    if rank == 0:
        print("RESULT " + json.dumps(result), flush=True)


def launch(n: int, args) -> dict:
    me = [sys.executable, str(Path(__file__).resolve()), "--child", "--fits", str(args.fits)]
    cmd = me if n == 1 else [find_mpirun() or "mpirun", "-n", str(n), *me]
    env = dict(os.environ, PYTHONPATH=f"{HERE}{os.pathsep}{ROOT}", **RUN_ENV)
    return result_of(cmd, env, timeout=1200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", default="1,2,4")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fits", type=int, default=3)
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args.fits)
        return
    ranks = [int(v) for v in args.ranks.split(",")]
    times = np.linspace(0.0, 10.0, N_TIMES)
    t0 = time.perf_counter()
    for _ in range(200):
        model(X0, times)
    per_call = (time.perf_counter() - t0) / 200
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; model {per_call * 1e3:.3f} ms per call on "
          f"{N_TIMES} times; {args.repeats} repeats, configurations alternating", flush=True)
    runs: dict = {n: [] for n in ranks}
    for rep in range(args.repeats):
        for n in (ranks if rep % 2 == 0 else ranks[::-1]):
            runs[n].append(launch(n, args))
    print(f"\n{runs[ranks[0]][0]['rounds']} rounds per fit\n")
    print("| N | per round, median (us) | overhead vs N = 1 (us) | per round, mean (us) "
          "| overhead vs N = 1 (us) | MPI floor: Bcast + Gatherv, median / mean (us) |")
    print("|---|---|---|---|---|---|")
    one = {k: statistics.median(r[k] for r in runs[1]) for k in ("median", "mean")} \
        if 1 in ranks else None
    for n in ranks:
        cells = []
        for k in ("median", "mean"):
            v = statistics.median(r[k] for r in runs[n])
            cells += [f"{v * 1e6:.0f}", f"{(v - one[k]) * 1e6:+.0f}" if one else "-"]
        mpi = "-" if n == 1 else " / ".join(
            f"{statistics.median(r['floor'][i] for r in runs[n]) * 1e6:.0f}" for i in (0, 1))
        print(f"| {n} | " + " | ".join(cells) + f" | {mpi} |")
    print("\nall jobs (us per round: median, mean; MPI floor median, mean):")
    for n in ranks:
        print(f"  N={n}: {[(round(r['median'] * 1e6), round(r['mean'] * 1e6)) for r in runs[n]]}"
              + (f"  floor {[[round(v * 1e6) for v in r['floor']] for r in runs[n]]}"
                 if n > 1 else ""))


if __name__ == "__main__":
    main()
