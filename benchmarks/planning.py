"""What rank 0's bookkeeping costs: planning a layout and updating the cost model.

    python benchmarks/planning.py [--ranks 16,32,256,1024] [--repeats 7]
                                  [--compare REV]

Every other rank waits while rank 0 plans (:func:`mpicg.parallel.layout.best_cuts`) and
updates its cost model (:meth:`mpicg.parallel.costs.CostModel.update`), so both are on
every round's critical path while the cost model learns. For a batch of 5 points over 250
blocks (the simulation benchmark's grid) with an eclipse-shaped cost per block, and a small
(0.5 ms) and a large (30 ms) fixed cost per call, prints the median time of each over
``--repeats`` repeats (each the mean of 20 calls). ``--compare REV`` times the
``layout.py`` and cost model (``costs.py``; ``balance.py`` before it) of a git revision in
the same run, the two versions alternating, and checks that both give the same cuts and
the same blocks' costs after an update (the ranks' slowdowns, which earlier versions do not
learn, switched off), bit for bit.
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import sys
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import _versions  # noqa: E402

from mpicg.parallel import costs as cost_model  # noqa: E402
from mpicg.parallel import layout  # noqa: E402

M, BLOCKS, CALLS = 5, 250, (0.5e-3, 30e-3)


def load_revision(rev: str) -> tuple[types.ModuleType, types.ModuleType]:
    """``layout.py`` and the cost model's module as they were at ``rev``."""
    modules = _versions.load_revision(rev)
    return modules["layout"], modules.get("costs", modules["balance"])


def costs() -> np.ndarray:
    """Seconds per block: 40 ms a call over the blocks, 20 times more in two eclipses."""
    w = np.ones(BLOCKS)
    for start in (BLOCKS // 5, 7 * BLOCKS // 10):
        w[start:start + BLOCKS // 16] *= 20
    return 40e-3 * w / w.sum()


def measure(lay: types.ModuleType, bal: types.ModuleType, ranks: int, call: float):
    """Mean seconds of one plan and one update, and what they produced."""
    w = costs()
    t0 = time.perf_counter()
    for _ in range(20):
        cuts = lay.best_cuts(M, ranks, call, w)
    plan = (time.perf_counter() - t0) / 20
    grid = lay.Layout(lay.CELLS, M, BLOCKS, cuts)
    table = grid.piece_table()
    rng = np.random.default_rng(ranks)
    seconds = np.zeros((ranks, lay.TRAILER - 2))
    prefix = np.concatenate([[0.0], np.cumsum(w)])
    seconds[table[:, 0], table[:, 1]] = table[:, 2] * (
        call + (prefix[table[:, 4]] - prefix[table[:, 3]]) * rng.lognormal(0, 0.1, len(table)))
    model = bal.CostModel(np.full(BLOCKS, 16))
    model.call_seconds = call
    t0 = time.perf_counter()
    for _ in range(20):
        model.block_seconds, model.updates = w.copy(), 2
        model.update(grid, seconds)
    update = (time.perf_counter() - t0) / 20
    # The bits compared: the blocks' fit alone, on a fresh model (a version that learns the
    # ranks' slowdowns, which earlier versions do not, is compared with them switched off;
    # the timed updates above learnt some, which would divide the pieces' seconds).
    model = bal.CostModel(np.full(BLOCKS, 16))
    model.call_seconds = call
    model.block_seconds, model.updates = w.copy(), 2
    switch = [k for k in ("slowdowns", "speeds")  # (ddf73d7 called them speeds)
              if k in inspect.signature(model.update).parameters]
    model.update(grid, seconds, **dict.fromkeys(switch, False))
    return plan, update, (cuts, model.block_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", default="16,32,256,1024")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--compare", metavar="REV")
    args = parser.parse_args()
    versions = {"now": (layout, cost_model)}
    if args.compare:
        versions[args.compare] = load_revision(args.compare)
    print(f"batch of {M} points x {BLOCKS} blocks; ms per call, medians of {args.repeats} "
          "repeats (versions alternating)")
    print("| ranks | call (ms) | " + " | ".join(f"plan {v} | update {v}" for v in versions)
          + " |")
    print("|---" * (2 + 2 * len(versions)) + "|")
    same_cuts = same_costs = True
    for ranks in (int(v) for v in args.ranks.split(",")):
        for call in CALLS:
            times = {v: ([], []) for v in versions}
            results = {}
            for rep in range(args.repeats):
                order = list(versions) if rep % 2 == 0 else list(versions)[::-1]
                for v in order:
                    plan, update, results[v] = measure(*versions[v], ranks, call)
                    times[v][0].append(plan)
                    times[v][1].append(update)
            if args.compare:
                (c0, w0), (c1, w1) = results.values()
                same_cuts = same_cuts and np.array_equal(c0, c1)
                same_costs = same_costs and np.array_equal(w0, w1)
            cells = [f"{statistics.median(t) * 1e3:.3f}" for v in versions for t in times[v]]
            print(f"| {ranks} | {call * 1e3:g} | " + " | ".join(cells) + " |", flush=True)
    if args.compare:
        print(f"bit for bit in every case: the same cuts {same_cuts}, the same blocks' costs "
              f"after an update {same_costs} (without the ranks' slowdowns)")


if __name__ == "__main__":
    main()
