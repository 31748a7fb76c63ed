"""Two versions of mpicg on the simulation benchmark's fits, runs alternating.

    python benchmarks/simulation_ab.py OLD_TREE [NEW_TREE] [--configs fixed:16,flat:32]
                                       [--repeats 3]

OLD_TREE and NEW_TREE are checkouts of the repository (e.g. ``git worktree add /tmp/old
REV``; NEW_TREE defaults to this one). For each configuration (kind:ranks, kinds as in
``simulation.py``) each version's ``simulation.py --child`` runs under ``mpirun -n N``, the
two versions alternating and their order reversed every other repeat, so that a noisy
machine's drift falls on both. Printed: every run, then the medians of the whole fit and of
its rounds (as ``simulation.py`` defines them) per version, and whether every run of a kind
ended with the same bits. With ``MPICG_SIMULATION_SLOW_RANK=F`` in the environment, each
fit's middle rank sleeps F times as long (see ``simulation.py``; an older tree needs this
version's ``simulation.py``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _child import result_of  # noqa: E402

from mpicg.parallel import find_mpirun  # noqa: E402


def run(tree: Path, kind: str, n: int) -> dict:
    """One fit of ``kind`` on n ranks with the mpicg of ``tree``: simulation.py's RESULT."""
    cmd = [find_mpirun() or "mpirun", "-n", str(n), sys.executable,
           str(tree / "benchmarks" / "simulation.py"), "--child", kind, "--sharing", "auto",
           "--maxiter", "20"]
    env = dict(os.environ, PYTHONPATH=f"{tree / 'benchmarks'}{os.pathsep}{tree}",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return result_of(cmd, env, timeout=600, cwd=tree)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path, nargs="?", default=HERE.parent)
    parser.add_argument("--configs", default="fixed:16,flat:32,eclipse:16,flat:16,fixed:32,"
                                             "eclipse:32")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    configs = [(k, int(n)) for k, n in (c.split(":") for c in args.configs.split(","))]
    runs: dict = {}
    for rep in range(args.repeats):
        order = ["old", "new"] if rep % 2 == 0 else ["new", "old"]
        for kind, n in configs:
            for version in order:
                result = run(trees[version], kind, n)
                runs.setdefault((kind, n, version), []).append(result)
                print(f"repeat {rep + 1} {version} {kind} N={n}: whole fit "
                      f"{result['seconds']:.3f} s, rounds {result['rounds_seconds']:.3f} s",
                      flush=True)
    print(f"\nold = {trees['old']}, new = {trees['new']}; medians of {args.repeats} (s)")
    print("| kind | N | whole fit old | whole fit new | new / old | rounds old | rounds new "
          "| new / old |")
    print("|---|---|---|---|---|---|---|---|")
    for kind, n in configs:
        whole, rounds = ({v: statistics.median(r[key] for r in runs[(kind, n, v)])
                          for v in trees} for key in ("seconds", "rounds_seconds"))
        print(f"| {kind} | {n} | {whole['old']:.3f} | {whole['new']:.3f} | "
              f"{whole['new'] / whole['old']:.3f} | {rounds['old']:.3f} | {rounds['new']:.3f} | "
              f"{rounds['new'] / rounds['old']:.3f} |")
    for kind in dict.fromkeys(k for k, _ in configs):
        bits = {r["bits"] for (k, _, _), rs in runs.items() if k == kind for r in rs}
        print(f"{kind}: every run of both versions ended with the same bits: {len(bits) == 1}")


if __name__ == "__main__":
    main()
