"""Who computes a batch of objective values: this process, or every MPI rank.

The only package that imports mpi4py, and only when several ranks run: evaluators (serial and
MPI), work sharing (points x blocks), fixed blocks, layouts, the measured cost model and
rebalancing, the collective protocol and its waiting, launcher detection, batch-system signals
and glibc's malloc settings. It knows a work's per-block evaluation, not what the points
mean.
"""

from .balance import BalanceReport
from .base import Evaluator, JobOutcome, RankClock, RankStats
from .blocks import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_MAX_BLOCKS,
    DEFAULT_MIN_BLOCKS,
    block_edges,
    block_ranges,
    sum_blocks,
)
from .launcher import (
    find_mpirun,
    install_abort_on_uncaught,
    is_root,
    launch_rank,
    launch_size,
    raise_on_root,
)
from .layout import Layout, Piece
from .malloc import tune_malloc
from .mpi import barrier
from .run import run_job
from .serial import SerialEvaluator
from .sharing import SHARINGS, BlockWork, PointWork, Work, check_sharing, distribute
from .signals import EXIT_INTERRUPTED, FitInterrupted, catch_signals, requested

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_MAX_BLOCKS",
    "DEFAULT_MIN_BLOCKS",
    "EXIT_INTERRUPTED",
    "SHARINGS",
    "BalanceReport",
    "BlockWork",
    "Evaluator",
    "FitInterrupted",
    "JobOutcome",
    "Layout",
    "Piece",
    "PointWork",
    "RankClock",
    "RankStats",
    "SerialEvaluator",
    "Work",
    "barrier",
    "block_edges",
    "block_ranges",
    "catch_signals",
    "check_sharing",
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
    "tune_malloc",
]
