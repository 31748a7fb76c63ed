"""How a batch is shared among ranks: by blocks of observations, or by points.

A *work* knows what one rank computes for a batch (its payload), how long each rank's
payload is, and how rank 0 turns all payloads into objective values. The same work runs
serially (:class:`~.serial.SerialEvaluator`) or over MPI (:mod:`.mpi`), and the assembly is
the same code on both paths, which is what keeps their results bitwise equal.

A sum objective (:class:`mpicg.fitting.SumObjective`) is shared by blocks: this package
needs only its per-block interface (``n_items``, ``n_blocks``, ``edges``, ``block_sums``,
``value_from_total``, ``restrict``, ``digest``), not what the points mean.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from ..errors import InputError
from ..optimize import FunctionWithArgs, objective_value
from .blocks import block_ranges, sum_blocks

__all__ = ["BlockWork", "PointWork", "Work", "distribute"]


class Work(ABC):
    """What each rank computes for a batch, and how rank 0 assembles it."""

    @abstractmethod
    def counts(self, m: int) -> list[int]:
        """Length of each rank's payload for a batch of ``m`` points."""

    @abstractmethod
    def compute(self, points: np.ndarray) -> np.ndarray:
        """The payload (1-D float64) of this rank for the batch."""

    @abstractmethod
    def assemble(self, payloads: list[np.ndarray], points: np.ndarray) -> np.ndarray:
        """Objective values of the batch from every rank's payload, in rank order."""

    def nan_source(self, payloads: list[np.ndarray], points: np.ndarray) -> str | None:
        """Where a NaN in the batch's values came from (which rank, which part), if known."""
        for rank, payload in enumerate(payloads):
            if np.isnan(payload).any():
                return f"NaN came from rank {rank}"
        return None


class BlockWork(Work):
    """Each rank sums the terms of its own blocks for every point of the batch.

    Parameters
    ----------
    local : SumObjective
        This rank's part of the problem (it holds at least the rank's blocks).
    n_ranks, rank : int
        The ranks sharing the blocks, and this one.
    """

    def __init__(self, local, n_ranks: int = 1, rank: int = 0):
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
        """Put the block sums in block order and add them (:func:`.blocks.sum_blocks`)."""
        per_block = np.hstack([p.reshape(len(points), -1) for p in payloads])
        return self.local.value_from_total(sum_blocks(per_block), points)

    def nan_source(self, payloads: list[np.ndarray], points: np.ndarray) -> str | None:
        """The rank, observations and point of the first NaN block sum (model output)."""
        for rank, payload in enumerate(payloads):
            sums = payload.reshape(len(points), -1)
            bad = np.argwhere(np.isnan(sums))
            if bad.size:
                i, j = bad[0]
                block = self.ranges[rank][0] + j
                first, last = int(self.local.edges[block]), int(self.local.edges[block + 1])
                return (f"the model gave NaN on rank {rank}, for observations {first} to "
                        f"{last - 1}, at x = {points[i].tolist()}")
        return None


class PointWork(Work):
    """The points of a batch spread over ranks; each value computed whole by one rank.

    This is how a plain objective callable runs under MPI: a finite-difference gradient's n
    points are shared out (the parameter axis), since the callable cannot be split in time.
    ``mapper`` (scipy's ``workers``, a map-like callable; serial runs) computes a rank's
    points as ``mapper(f, points)`` instead of one call after the other.
    """

    def __init__(self, fun: Callable[..., float], args: tuple = (), name: str = "fun",
                 n_ranks: int = 1, rank: int = 0, mapper: Callable | None = None):
        self.fun, self.args, self.name = fun, args, name
        self.n_ranks, self.rank = n_ranks, rank
        self.mapper = mapper

    def counts(self, m: int) -> list[int]:
        """The number of points each rank computes (contiguous ranges; rank 0 first)."""
        return [last - first for first, last in block_ranges(m, self.n_ranks)]

    def compute(self, points: np.ndarray) -> np.ndarray:
        """Values of this rank's points, one call of ``fun`` each (on a copy of the point)."""
        first, last = block_ranges(len(points), self.n_ranks)[self.rank]
        mine = points[first:last]
        if self.mapper is not None:  # scipy's `workers`: a map-like callable
            call = FunctionWithArgs(self.fun, self.args)
            returned = list(self.mapper(call, [np.copy(x) for x in mine]))
        else:
            returned = (self.fun(np.copy(x), *self.args) for x in mine)
        values = np.empty(last - first)
        for i, (x, value) in enumerate(zip(mine, returned, strict=True)):
            values[i] = objective_value(value, self.name, x)
        return values

    def assemble(self, payloads: list[np.ndarray], points: np.ndarray) -> np.ndarray:
        """The values in point order."""
        return np.concatenate(payloads)

    def nan_source(self, payloads: list[np.ndarray], points: np.ndarray) -> str | None:
        """The rank and point of the first NaN value."""
        first = 0
        for rank, payload in enumerate(payloads):
            bad = np.flatnonzero(np.isnan(payload))
            if bad.size:
                return (f"`{self.name}` returned NaN on rank {rank} at x = "
                        f"{points[first + bad[0]].tolist()}")
            first += payload.size
        return None


def distribute(objective, world, rank: int, size: int) -> BlockWork:
    """The share of a sum objective for this rank, holding only its own blocks.

    Every rank may pass its own copy of the objective (each keeps its blocks), or ranks other
    than 0 may pass None, and rank 0 sends each its blocks (the model must then pickle).
    ``world`` is None for a serial run.

    Raises
    ------
    InputError
        On a rank whose copy is not rank 0's problem (other data or blocks, by their
        digest): the ranks' fits would pair different light curves (a pipeline whose ranks
        got out of step, data read differently on one node).
    """
    if world is None:
        return BlockWork(objective)
    have = world.allgather(None if objective is None else
                           (objective.n_items, objective.digest()))
    if have[0] is None:
        # rank 0's own checks (prepare) reject this before we get here
        raise InputError("the problem must be given on rank 0")
    mine = have[rank]
    if mine is not None and mine != have[0]:
        raise InputError(f"every rank must hold the same problem; this rank's ({mine[0]} "
                         f"observations, digest {mine[1][:12]}) differs from rank 0's "
                         f"({have[0][0]} observations, digest {have[0][1][:12]}): are the "
                         "ranks fitting different light curves?")
    if all(h is not None for h in have):
        first, last = block_ranges(objective.n_blocks, size)[rank]
        return BlockWork(objective.restrict(first, last), size, rank)
    parts = None
    if rank == 0:
        parts = [objective.restrict(first, last)
                 for first, last in block_ranges(objective.n_blocks, size)]
    local = world.scatter(parts, root=0)
    return BlockWork(local, size, rank)
