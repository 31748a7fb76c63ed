"""How a batch is shared among ranks: by blocks of observations, or by points.

A *work* knows what one rank computes for a batch (its payload), how long each rank's
payload is, and how rank 0 turns all payloads into objective values. The same work runs
serially (:class:`LocalEvaluator`) or over MPI (:mod:`.mpi`), and the assembly is the same
code on both paths, which is what keeps their results bitwise equal.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ..blocks import block_ranges, sum_blocks
from ..problem import SumObjective
from .base import Evaluator, RankClock
from .serial import SerialEvaluator

__all__ = ["BlockWork", "LocalEvaluator", "PointWork", "Work"]


class Work:
    """What each rank computes for a batch, and how rank 0 assembles it."""

    def counts(self, m: int) -> list[int]:
        """Length of each rank's payload for a batch of ``m`` points."""
        raise NotImplementedError

    def compute(self, points: np.ndarray) -> np.ndarray:
        """The payload (1-D float64) of this rank for the batch."""
        raise NotImplementedError

    def assemble(self, payloads: list[np.ndarray], points: np.ndarray) -> np.ndarray:
        """Objective values of the batch from every rank's payload, in rank order."""
        raise NotImplementedError


class BlockWork(Work):
    """Each rank sums the terms of its own blocks for every point of the batch.

    Parameters
    ----------
    local : SumObjective
        This rank's part of the problem (it holds at least the rank's blocks).
    n_ranks, rank : int
        The ranks sharing the blocks, and this one.
    """

    def __init__(self, local: SumObjective, n_ranks: int = 1, rank: int = 0):
        self.local = local
        self.ranges = block_ranges(local.n_blocks, n_ranks)
        self.first_block, self.last_block = self.ranges[rank]

    def counts(self, m: int) -> list[int]:
        """``m`` block sums for each block a rank owns."""
        return [m * (last - first) for first, last in self.ranges]

    def compute(self, points: np.ndarray) -> np.ndarray:
        """Block sums of this rank's blocks, point-major."""
        return self.local.block_sums(points, self.first_block, self.last_block).ravel()

    def assemble(self, payloads: list[np.ndarray], points: np.ndarray) -> np.ndarray:
        """Put the block sums in block order and add them (:func:`mpicg.blocks.sum_blocks`)."""
        per_block = np.hstack([p.reshape(len(points), -1) for p in payloads])
        return self.local.value_from_total(sum_blocks(per_block), points)


def split_points(m: int, n_ranks: int) -> list[tuple[int, int]]:
    """Contiguous point ranges per rank; a one-point batch goes to rank 0."""
    return block_ranges(m, n_ranks)


class PointWork(Work):
    """The points of a batch spread over ranks; each value computed whole by one rank.

    This is how a plain objective callable runs under MPI: a finite-difference gradient's n
    points are shared out (the parameter axis), since the callable cannot be split in time.
    """

    def __init__(self, fun: Callable[..., float], args: tuple = (), name: str = "fun",
                 n_ranks: int = 1, rank: int = 0):
        self.serial = SerialEvaluator(fun, args, name=name)
        self.n_ranks, self.rank = n_ranks, rank

    def counts(self, m: int) -> list[int]:
        """The number of points each rank computes."""
        return [last - first for first, last in split_points(m, self.n_ranks)]

    def compute(self, points: np.ndarray) -> np.ndarray:
        """Values of this rank's points."""
        first, last = split_points(len(points), self.n_ranks)[self.rank]
        return self.serial.evaluate(points[first:last])

    def assemble(self, payloads: list[np.ndarray], points: np.ndarray) -> np.ndarray:
        """The values in point order."""
        return np.concatenate(payloads)


class LocalEvaluator(Evaluator):
    """Run a work entirely on this process (the serial path of the collective machinery)."""

    def __init__(self, work: Work, clock: RankClock | None = None):
        self.work = work
        self.clock = clock or RankClock()

    def evaluate(self, points: np.ndarray) -> np.ndarray:
        """Compute and assemble the whole batch here."""
        t0 = time.perf_counter()
        try:
            return self.work.assemble([self.work.compute(points)], points)
        finally:
            self.clock.model += time.perf_counter() - t0
            self.clock.rounds += 1
