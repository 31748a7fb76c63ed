"""The ``mpicg`` command (also ``python -m mpicg``); run it under ``mpirun`` to use many ranks."""

from __future__ import annotations

import argparse
import logging
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the subcommand; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="mpicg",
        description="Conjugate-gradient fits of expensive models, spread over MPI ranks. "
                    "Run under mpirun/srun to use several ranks.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="fit a synthetic transit light curve made in memory")
    demo.add_argument("--n-times", type=int, default=2000, help="observations (default 2000)")
    demo.add_argument("--resolution", type=int, default=20,
                      help="model integration grid; cost per time grows as its square "
                           "(default 20)")
    demo.add_argument("--seed", type=int, default=1, help="noise seed (default 1)")
    args = parser.parse_args(argv)

    # One progress line per iteration from the optimizer (rank 0: only it runs one).
    logging.basicConfig(level=logging.INFO, format="  %(message)s", stream=sys.stdout)
    if args.command == "demo":
        from .demo import run_demo

        if args.n_times < 2:
            parser.error(f"--n-times must be at least 2; got {args.n_times}")
        if args.resolution < 1:
            parser.error(f"--resolution must be at least 1; got {args.resolution}")
        res = run_demo(n_times=args.n_times, resolution=args.resolution, seed=args.seed)
        return 0 if res.success else 1
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
