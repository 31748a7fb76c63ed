"""Who computes a batch of objective values: this process, or every MPI rank.

The only package that imports mpi4py, and only when several ranks run: evaluators (serial and
MPI), work sharing, fixed blocks, the collective protocol, launcher detection and batch-system
signals. It knows a work's per-block evaluation, not what the points mean.
"""

from .base import Evaluator, JobOutcome, RankClock, RankStats
from .blocks import DEFAULT_MAX_BLOCKS, block_edges, block_ranges, sum_blocks
from .launcher import (
    find_mpirun,
    install_abort_on_uncaught,
    is_root,
    launch_rank,
    launch_size,
    raise_on_root,
)
from .mpi import barrier
from .run import run_job
from .serial import SerialEvaluator
from .sharing import BlockWork, PointWork, Work, distribute
from .signals import EXIT_INTERRUPTED, FitInterrupted, catch_signals, requested

__all__ = [
    "DEFAULT_MAX_BLOCKS",
    "EXIT_INTERRUPTED",
    "BlockWork",
    "Evaluator",
    "FitInterrupted",
    "JobOutcome",
    "PointWork",
    "RankClock",
    "RankStats",
    "SerialEvaluator",
    "Work",
    "barrier",
    "block_edges",
    "block_ranges",
    "catch_signals",
    "distribute",
    "find_mpirun",
    "install_abort_on_uncaught",
    "is_root",
    "launch_rank",
    "launch_size",
    "raise_on_root",
    "requested",
    "run_job",
    "sum_blocks",
]
