"""Scaling to many ranks, simulated: a model that sleeps its cost, at 1-64 ranks on any machine.

    python benchmarks/simulation.py [--ranks 1,2,4,8,16,32,64] [--kinds flat,eclipse,fixed]
                                    [--sharings blocks,auto] [--repeats 3] [--maxiter 5]
                                    [--slow-rank 1]

A sleeping model leaves the cores free, so 64 ranks can share a 2-core machine and still
compute "in parallel": what is measured is how well mpicg shares the work and how much its
rounds cost, not the machine's arithmetic. The problem: 4,000 times over 10 days, a
4-parameter model (a Gaussian dip and a sine trend; its values are cheap), fitted from a
perturbed start for ``--maxiter`` iterations with forward differences (batches of 5, 4 or 1
points). The model sleeps, per call on a chunk of the times,

* ``flat``    -- 0.5 ms per call + 10 us per time (40.5 ms on all times: like the built-in
  numerical transit model's 11 us per time);
* ``eclipse`` -- 0.5 ms per call + 10 us per time, 20 times more (200 us) per time in
  eclipse: two eclipses of 0.15 d per 2.5-d orbit, 12 % of the times (131.7 ms on all);
* ``fixed``   -- 30 ms per call whatever the times + 5 us per time (50 ms on all: a model
  that builds a mesh in every call, like PHOEBE).

With ``--slow-rank F`` (or ``MPICG_SIMULATION_SLOW_RANK=F`` in the environment, which the
child jobs read) the middle rank, N // 2, sleeps F times as long: a slower core, or one
shared with another job. The perfect schedule below does not know of it.

Each is run serially (``python``, N = 1) and under ``mpirun -n N`` with two sharings on the
same default blocks (250 of 16 times): the old one (``sharing='blocks'``: each rank every
point on a fixed range of blocks, as mpicg did before measured layouts) and the new one
(``sharing='auto'``, the default). Every configuration is a fresh job; the configurations
alternate within a repeat (the order reverses every other repeat) and the table quotes
medians of the fit's wall time (rank 0's, from the start of the fit to the end; MPI start-up
excluded: the ranks meet at a sleeping barrier first) and of its rounds alone (from the first
iteration's progress record to the last). Every run must end with the same bits (checked).

E(N) = T(1) / (N T(N)). "best" is the wall time of a perfect schedule of the same batches
(the batch sizes are those of the serial run): per batch of m points, m (c + W) / N when
N <= m, else c + m W / N (every rank pays the fixed cost c at least once; W is a whole
call's cost per time summed over the times); overheads of the optimizer and of the rounds
are zero there. T(best) / T(N) says how close a run came to it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
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

N_TIMES = 4000
PERIOD, ECLIPSE_HALF_WIDTH = 2.5, 0.075  # days; eclipses at phases 0 and 0.5
KINDS = {  # call seconds, seconds per time, extra seconds per time in eclipse
    "flat": (0.5e-3, 10e-6, 0.0),
    "eclipse": (0.5e-3, 10e-6, 190e-6),
    "fixed": (30e-3, 5e-6, 0.0),
}
TRUTH = np.array([0.02, 5.0, 0.3, 0.001])
X0 = np.array([0.015, 4.9, 0.35, 0.0])
RUN_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
SLOW_RANK = "MPICG_SIMULATION_SLOW_RANK"  # the middle rank's factor on its sleeps


def in_eclipse(times: np.ndarray) -> np.ndarray:
    phase = (times / PERIOD) % 0.5  # primary and secondary
    return np.minimum(phase, 0.5 - phase) * PERIOD < ECLIPSE_HALF_WIDTH


class SleepingModel:
    """A cheap 4-parameter light curve that sleeps what a real model of its kind would cost."""

    def __init__(self, kind: str):
        from mpicg.parallel import launch_rank, launch_size

        self.call, self.per_time, self.extra = KINDS[kind]
        size = launch_size() or 1
        slow = size > 1 and launch_rank() == size // 2
        self.factor = float(os.environ.get(SLOW_RANK, "1")) if slow else 1.0

    def cost(self, times: np.ndarray) -> float:
        """Seconds this model takes on these times."""
        n_eclipse = int(np.count_nonzero(in_eclipse(times))) if self.extra else 0
        return self.call + self.per_time * times.size + self.extra * n_eclipse

    def __call__(self, x, times):
        time.sleep(self.cost(times) * self.factor)
        depth, t0, width, slope = x
        return 1.0 - depth * np.exp(-0.5 * ((times - t0) / width) ** 2) + slope * np.sin(times)


def make_problem(kind: str, sharing: str):
    import mpicg

    times = np.linspace(0.0, 10.0, N_TIMES)
    rng = np.random.default_rng(7)
    model = SleepingModel(kind)
    depth, t0, width, slope = TRUTH
    flux = (1.0 - depth * np.exp(-0.5 * ((times - t0) / width) ** 2) + slope * np.sin(times)
            + rng.normal(0.0, 1e-3, times.size))
    # Both sharings on the default blocks (here 250 of 16 times, as mpicg always cut them).
    return mpicg.Problem(model, times, flux, np.full(times.size, 1e-3))


class Records(logging.Handler):
    """Keep (time, rounds) of every progress record of a fit (rank 0)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.points: list[tuple[float, int]] = []

    def emit(self, record):
        numbers = getattr(record, "mpicg_progress", None)
        if numbers is not None:
            self.points.append((time.perf_counter(), numbers["rounds"]))


def child(kind: str, sharing: str, maxiter: int) -> None:
    """One fit; rank 0 prints one JSON line."""
    import mpicg

    records = Records()
    logger = logging.getLogger("mpicg")
    logger.addHandler(records)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    problem = make_problem(kind, sharing)
    rank, comm = 0, None
    if (mpicg.parallel.launch_size() or 1) > 1:
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
        rank = comm.Get_rank()
        request = comm.Ibarrier()  # meet without spinning: start-up is not measured
        while not request.Test():
            time.sleep(0.01)
    used = resource.getrusage(resource.RUSAGE_SELF)
    res = mpicg.fit(problem, X0, maxiter=maxiter, gtol=1e-12, sharing=sharing)
    now = resource.getrusage(resource.RUSAGE_SELF)
    # Seconds of a core this rank used per round (user + system): on a machine with fewer
    # cores than ranks, what the ranks need of them together bounds a round's length.
    cpu = ((now.ru_utime - used.ru_utime) + (now.ru_stime - used.ru_stime)) / res.rounds
    cpus = [cpu] if comm is None else comm.gather(cpu, root=0)
    if rank == 0:
        (t_first, r_first), (t_last, r_last) = records.points[0], records.points[-1]
        print("RESULT " + json.dumps({
            "seconds": res.wall_time, "nit": res.nit, "nfev": res.nfev, "rounds": res.rounds,
            "rounds_seconds": t_last - t_first, "rounds_span": [r_first, r_last],
            "bits": res.x.tobytes().hex() + float(res.fun).hex(),
            "imbalance_before": res.imbalance_before, "imbalance_after": res.imbalance_after,
            "rebalances": res.rebalances, "cpu_rank0": cpus[0],
            "cpu_others": statistics.median(cpus[1:]) if len(cpus) > 1 else None}),
            flush=True)


def batch_sizes(kind: str, maxiter: int) -> list[int]:
    """The batches of the fit (the same for any N), from a serial run without sleeping."""
    import mpicg
    from mpicg.parallel import SerialEvaluator

    sizes = []
    original = SerialEvaluator.evaluate

    def spy(self, points):
        sizes.append(len(points))
        return original(self, points)

    problem = make_problem(kind, "auto")
    problem.model = lambda x, t: SleepingModel.__call__(_NoSleep(), x, t)
    SerialEvaluator.evaluate = spy
    try:
        mpicg.fit(problem, X0, maxiter=maxiter, gtol=1e-12)
    finally:
        SerialEvaluator.evaluate = original
    return sizes


class _NoSleep:
    factor = 1.0

    def cost(self, times):
        return 0.0


def best_seconds(kind: str, sizes: list[int], n: int) -> float:
    """A perfect schedule's wall time for these batches on n ranks (see the module doc)."""
    model = SleepingModel(kind)
    times = np.linspace(0.0, 10.0, N_TIMES)
    c = model.call
    W = model.cost(times) - c
    return sum(m * (c + W) / n if n <= m else c + m * W / n for m in sizes)


def launch(kind: str, sharing: str, n: int, args) -> dict:
    me = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--sharing",
          sharing, "--maxiter", str(args.maxiter)]
    cmd = me if n == 1 else [find_mpirun() or "mpirun", "-n", str(n), *me]
    env = dict(os.environ, PYTHONPATH=f"{HERE}{os.pathsep}{ROOT}", **RUN_ENV)
    return result_of(cmd, env, timeout=3600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", default="1,2,4,8,16,32,64")
    parser.add_argument("--kinds", default="flat,eclipse,fixed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--maxiter", type=int, default=5)
    parser.add_argument("--child", choices=list(KINDS))
    parser.add_argument("--sharing", default="auto")
    parser.add_argument("--slow-rank", type=float, default=1.0,
                        help="the middle rank sleeps this many times as long")
    parser.add_argument("--sharings", default="blocks,auto",
                        help="the sharings run at N > 1: 'blocks' (the table's 'old'), "
                             "'auto' (its 'new'), or both")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.sharing, args.maxiter)
        return
    if args.slow_rank != 1.0:
        os.environ[SLOW_RANK] = repr(args.slow_rank)  # (the child jobs inherit it)

    ranks = [int(v) for v in args.ranks.split(",")]
    kinds = args.kinds.split(",")
    sharings = args.sharings.split(",")
    if not sharings or not set(sharings) <= {"blocks", "auto"}:
        parser.error(f"--sharings: 'blocks', 'auto' or both; got {args.sharings!r}")
    configs = [(k, "auto", 1) for k in kinds if 1 in ranks] + [
        (k, s, n) for k in kinds for n in ranks if n > 1 for s in sharings]
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; {N_TIMES} times, 4 parameters, maxiter "
          f"{args.maxiter}; {args.repeats} repeats, configurations alternating; the middle "
          f"rank {os.environ.get(SLOW_RANK, '1')} times slower", flush=True)
    sizes = {k: batch_sizes(k, args.maxiter) for k in kinds}
    for k in kinds:
        model = SleepingModel(k)
        print(f"  {k}: {model.cost(np.linspace(0.0, 10.0, N_TIMES)) * 1e3:.1f} ms per call "
              f"on all times; {len(sizes[k])} rounds, batch sizes {sorted(set(sizes[k]))}",
              flush=True)
    runs: dict = {c: [] for c in configs}
    started = time.perf_counter()
    for rep in range(args.repeats):
        order = configs if rep % 2 == 0 else configs[::-1]
        for config in order:
            runs[config].append(launch(*config, args))
        print(f"  repeat {rep + 1}/{args.repeats} done ({time.perf_counter() - started:.0f} s)",
              flush=True)

    for k in kinds:
        for sharing in ("auto", "blocks"):
            bits = {r["bits"] for c in configs if c[0] == k and c[1] == sharing
                    for r in runs[c]}
            if bits:
                print(f"\n{k}, {sharing}: every run ended with the same bits: {len(bits) == 1}")
        for basis in ("whole fit", "rounds"):
            table(k, basis, ranks, runs, sizes[k])
        print("all times, whole fit (s); ms of a core per round: rank 0, the others' median:")
        for c in configs:
            if c[0] == k:
                cpu0 = statistics.median(r["cpu_rank0"] for r in runs[c]) * 1e3
                others = [r["cpu_others"] for r in runs[c] if r["cpu_others"] is not None]
                rest = f", {statistics.median(others) * 1e3:.2f}" if others else ""
                print(f"  {c[1]:>6s} N={c[2]:<3d} {[round(r['seconds'], 3) for r in runs[c]]}"
                      f"  cpu {cpu0:.2f}{rest}")


def table(kind: str, basis: str, ranks: list[int], runs: dict, sizes: list[int]) -> None:
    """E(N) and the ratio to a perfect schedule, on the whole fit or on its rounds only."""
    def seconds(result):
        return result["seconds"] if basis == "whole fit" else result["rounds_seconds"]

    first, last = runs[(kind, "auto", 1)][0]["rounds_span"]
    batches = sizes if basis == "whole fit" else sizes[first:last]
    t1 = statistics.median(seconds(r) for r in runs[(kind, "auto", 1)]) if 1 in ranks \
        else None
    print(f"\n{kind}, {basis}" + (" (the fit's wall time, set-up included)"
                                  if basis == "whole fit" else
                                  f" (rounds {first + 1}-{last} of {len(sizes)}: the "
                                  "iterations' progress records; set-up excluded)"))
    print("| N | T(N) old (s) | E(N) old | T(best)/T(N) old | T(N) new (s) | E(N) new "
          "| T(best)/T(N) new | imbalance new, first → last |")
    print("|---|---|---|---|---|---|---|---|")
    for n in ranks:
        best = best_seconds(kind, batches, n)
        cells = []
        for s in ("blocks", "auto"):
            config = (kind, "auto", 1) if n == 1 else (kind, s, n)
            if config not in runs:  # a sharing left out (--sharings)
                cells += ["-", "-", "-"]
                continue
            t = statistics.median(seconds(r) for r in runs[config])
            e = f"{t1 / (n * t):.2f}" if t1 else "-"
            cells += [f"{t:.3f}", e, f"{best / t:.2f}"]
        new = runs.get((kind, "auto", 1) if n == 1 else (kind, "auto", n))
        imbalance = "-" if new is None else (
            f"{statistics.median(r['imbalance_before'] for r in new):.2f} → "
            f"{statistics.median(r['imbalance_after'] for r in new):.2f}")
        print(f"| {n} | " + " | ".join(cells) + f" | {imbalance} |")


if __name__ == "__main__":
    main()
