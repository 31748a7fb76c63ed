"""How close the measured sharing's layouts come to the best one, over many simulated fits.

    python benchmarks/balance_sweep.py [--rounds 30] [--per-iteration 2]
                                       [--compare REV] [--warm-up 0] [--slow-rank 1]

No MPI and no model: each configuration (batch size m, ranks, blocks, fixed cost per call,
shape of the cost per block, timing noise) runs ``--rounds`` rounds of
:class:`mpicg.parallel.balance.MeasuredSharing` (``--per-iteration`` rounds per iteration
of the optimizer: the simulation benchmark's fits have 2.2), feeding it the seconds each
rank's pieces and probe would take with the true costs (times lognormal noise; with
``--warm-up X`` each rank's first call takes X whole calls longer, as a model that imports
or compiles on its first call). At the end the layout's slowest rank is compared with
:func:`best_cuts`'s optimum for the true costs. Printed per shape and overall: the mean
ratio, the share of configurations more than 5 % and 20 % off, the worst; the mean over
configurations of the rounds' slowest ranks (a probe round's probe included) added up over
the optimum's (what learning costs); and the median error of the fixed cost per call.
With ``--slow-rank F`` one rank (the middle one) takes F times as long for everything
(a slower core, or one shared with another job), and the optimum is that of ranks of
these slowdowns. ``--compare REV`` runs the same configurations with the sharing of a git
revision too (its ``layout.py``, ``slowdowns.py``, ``costs.py`` and ``balance.py``). Runs
differ a little: the sharing paces its planning by the wall-clock time it takes.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _versions import load_revision

from mpicg.parallel import balance, costs, layout
from mpicg.parallel.layout import CELLS, TRAILER, Layout, best_cuts

SHAPES = ("flat", "eclipse", "random")


def block_costs(shape: str, n_blocks: int, rng) -> np.ndarray:
    """Seconds per block, one second for all of a point's blocks."""
    w = np.ones(n_blocks)
    if shape == "eclipse":  # two eclipses, 20 times the cost
        for start in (n_blocks // 5, 7 * n_blocks // 10):
            w[start:start + max(1, n_blocks // 16)] *= 20
    elif shape == "random":
        w = rng.lognormal(0.0, 1.0, n_blocks)
    return w / w.sum()


def slowest(layout: Layout, call: float, w: np.ndarray,
            probed: np.ndarray | None = None, slowdowns: np.ndarray | None = None) -> float:
    """The slowest rank's seconds with the true costs (the cost model's own prediction).

    ``probed``: in a probe round, the block each rank probes (it times one call on it; -1,
    and in versions before 2026-12-01 any rank without pieces: no probe).
    """
    truth = costs.CostModel(np.ones(w.size))
    truth.call_seconds, truth.block_seconds = call, w
    seconds = truth.predict(layout)
    if probed is not None:
        seconds = seconds + probing(layout, probed) * (call + w[probed])
    return float((seconds if slowdowns is None else seconds * slowdowns).max())


def probing(layout: Layout, probed: np.ndarray) -> np.ndarray:
    """Which ranks time a probe, given a version's ``probe_blocks``."""
    return (probed >= 0) & (layout.cell_counts() > 0)


def trailers(layout: Layout, call: float, w: np.ndarray, noise: float, rng,
             probed: np.ndarray, cold: np.ndarray, warm_up: float) -> np.ndarray:
    """What the ranks would report: each piece's seconds and the probe's.

    ``probed``: the block each rank probes (the version's own ``probe_blocks``). ``cold``:
    ranks whose first model call is still to come (it takes ``warm_up`` longer; updated).
    """
    out = np.zeros((layout.n_ranks, TRAILER))
    probes = probing(layout, probed)
    for rank in range(layout.n_ranks):
        pieces = layout.pieces(rank)
        for k, p in enumerate(pieces):
            out[rank, 1 + k] = p.calls * (call + w[p.first_block:p.last_block].sum())
        if pieces and cold[rank]:
            out[rank, 1] += warm_up
            cold[rank] = False
        if probes[rank]:  # (after the rank's pieces: its warm-up is paid)
            out[rank, TRAILER - 1] = call + w[probed[rank]]
    if noise:
        out[:, 1:] *= rng.lognormal(0.0, noise, out[:, 1:].shape)
    return out


def run(version, m, n_ranks, n_blocks, call, shape, noise, seed, rounds, per_iteration,
        warm_up=0.0, slow=1.0):
    """One configuration with one version (its ``balance`` and ``probe_blocks``): the final
    layout's slowest over the optimum's, all rounds' slowest over the optimum's, and the
    fixed cost per call found."""
    module, probe_blocks = version
    rng = np.random.default_rng(seed)
    w = block_costs(shape, n_blocks, np.random.default_rng(seed + 10_000))
    slowdowns = np.ones(n_ranks)
    slowdowns[n_ranks // 2] = slow
    sharing = module.MeasuredSharing(n_ranks, np.ones(n_blocks))
    cold = np.ones(n_ranks, dtype=bool)
    total = 0.0
    for i in range(rounds):
        layout = sharing.layout(m)
        probed = probe_blocks(layout)  # the version's own
        total += slowest(layout, call, w, probed if sharing.wants_probe() else None, slowdowns)
        seconds = trailers(layout, call, w, noise, rng, probed, cold, warm_up * (call + 1.0))
        seconds[:, 1:] *= slowdowns[:, None]
        sharing.record(layout, seconds)
        if (i + 1) % per_iteration == 0:
            sharing.end_iteration()
    if slow == 1.0:
        best = slowest(Layout(CELLS, m, n_blocks, best_cuts(m, n_ranks, call, w)), call, w)
    else:
        cuts = best_cuts(m, n_ranks, call, w, rel_tol=1e-6, rank_slowdowns=slowdowns)
        best = slowest(Layout(CELLS, m, n_blocks, cuts), call, w, slowdowns=slowdowns)
    return (slowest(sharing.layout(m), call, w, slowdowns=slowdowns) / best,
            total / (rounds * best), sharing.model.call_seconds)


def version_of(rev: str):
    """The sharing of a git revision, and the rule for which ranks probe."""
    modules = load_revision(rev)
    balance_module = modules["balance"]
    probes = getattr(balance_module, "probe_blocks", None)  # (before 2026-12-01)
    return balance_module, probes or modules["layout"].probe_blocks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--per-iteration", type=int, default=2,
                        help="rounds per iteration of the optimizer (layouts change between)")
    parser.add_argument("--compare", metavar="REV", help="a git revision to compare with")
    parser.add_argument("--warm-up", type=float, default=0.0,
                        help="each rank's first model call takes this many whole calls longer")
    parser.add_argument("--slow-rank", type=float, default=1.0,
                        help="the middle rank takes this many times as long for everything")
    args = parser.parse_args()
    versions = {"this": (balance, layout.probe_blocks)}
    if args.compare:
        versions[args.compare] = version_of(args.compare)
    configs = list(itertools.product([1, 2, 3, 5, 7], [2, 3, 8, 16, 40], [8, 400],
                                     [0.0, 0.3, 3.0, 30.0], SHAPES, [0.0, 0.1]))
    print(f"{len(configs)} configurations (m 1-7, 2-40 ranks, 8 or 400 blocks, fixed cost 0-30 "
          f"times a point's blocks, shapes {', '.join(SHAPES)}, noise 0 or 10 %), "
          f"{args.rounds} rounds each, {args.per_iteration} per iteration; a rank's first "
          f"call {args.warm_up:g} whole calls longer; the middle rank {args.slow_rank:g} "
          "times slower")
    for name, version in versions.items():
        ratios, totals, errors, shapes = [], [], [], []
        for seed, (m, n_ranks, n_blocks, call, shape, noise) in enumerate(configs):
            ratio, total, found = run(version, m, n_ranks, n_blocks, call, shape, noise, seed,
                                      args.rounds, args.per_iteration, args.warm_up,
                                      args.slow_rank)
            ratios.append(ratio)
            totals.append(total)
            errors.append(abs(found - call) / max(call, 1.0))
            shapes.append(shape)
        ratios, totals, shapes = np.array(ratios), np.array(totals), np.array(shapes)
        for label, sel in [*((s, shapes == s) for s in SHAPES), ("all", shapes == shapes)]:
            r = ratios[sel]
            print(f"{name:>8s} {label:>7s}: final layout's slowest / optimum mean "
                  f"{r.mean():.4f}, > 5 % off {100 * np.mean(r > 1.05):.1f} %, > 20 % off "
                  f"{100 * np.mean(r > 1.2):.1f} %, worst {r.max():.3f}; all rounds' slowest / "
                  f"optimum mean {totals[sel].mean():.4f}")
        print(f"{name:>8s} fixed cost per call: median error {np.median(errors):.4f} "
              "(relative to the larger of c and a point's blocks)")


if __name__ == "__main__":
    main()
