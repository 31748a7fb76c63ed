"""Who computes a batch of objective values: this process, or every MPI rank.

The only package that imports mpi4py, and only when several ranks run: evaluators (serial and
MPI), work sharing (points x blocks), fixed blocks, layouts, the measured cost model and
rebalancing, the collective protocol and its waiting, the start-up handshake and the
collective verdicts on set-up steps, launcher detection, batch-system signals and glibc's
malloc settings. It knows a work's per-block evaluation, not what the points mean.
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
from .handshake import DEFAULT_HANDSHAKE_TIMEOUT, TIMEOUT_VARIABLE, handshake_timeout
from .launcher import (
    check_launch,
    find_mpirun,
    install_abort_on_uncaught,
    is_root,
    launch_rank,
    launch_size,
    start_mpi,
    warn_on_root,
)
from .layout import Layout, Piece
from .malloc import tune_malloc
from .mpi import barrier, collective_verdict
from .run import run_job
from .serial import SerialEvaluator
from .sharing import SHARINGS, BlockWork, PointWork, Work, check_sharing, distribute
from .signals import EXIT_INTERRUPTED, FitInterrupted, catch_signals, requested

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "DEFAULT_MAX_BLOCKS",
    "DEFAULT_MIN_BLOCKS",
    "EXIT_INTERRUPTED",
    "SHARINGS",
    "TIMEOUT_VARIABLE",
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
    "check_launch",
    "check_sharing",
    "collective_verdict",
    "distribute",
    "find_mpirun",
    "handshake_timeout",
    "install_abort_on_uncaught",
    "is_root",
    "launch_rank",
    "launch_size",
    "requested",
    "run_job",
    "start_mpi",
    "sum_blocks",
    "tune_malloc",
    "warn_on_root",
]
