"""The evaluator interface: a batch of parameter vectors in, objective values out."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .balance import BalanceReport

__all__ = ["Evaluator", "JobOutcome", "RankClock", "RankStats", "compute_share"]


class Evaluator(ABC):
    """Computes objective values for a batch of parameter vectors.

    This is the seam between the optimizer, which runs on one process, and whatever
    computes the values: this process (:class:`~mpicg.parallel.serial.SerialEvaluator`) or
    every MPI rank (:class:`~mpicg.parallel.mpi.MPIEvaluator`). Implementations must return,
    for the same points, the same bits however many processes they use. It is what
    :class:`mpicg.optimize.BatchEvaluator` asks for.

    Attributes
    ----------
    nan_note : str or None
        Where the first NaN value came from (rank, observations, point), for messages.
    inf_note : str or None
        Where the first infinite value came from (a gradient's NaN may be ``inf - inf``).
    inf_first : bool
        Whether the first infinite value came no later than the first NaN (it may be the
        NaN's cause: an infinite gradient sends the line search to absurd points).
    """

    nan_note: str | None = None
    inf_note: str | None = None
    inf_first: bool = False

    def note_nan(self, work, grid: np.ndarray, points: np.ndarray, values: np.ndarray,
                 layout=None) -> np.ndarray:
        """Remember where the first NaN (and the first inf) among ``values`` came from.

        ``grid`` is the batch's ``m x n_blocks`` grid of cell sums, ``layout`` the
        :class:`~.layout.Layout` that says which rank computed each cell (None: this
        process computed them all). Returns ``values``.
        """
        no_nan_before = self.nan_note is None
        if self.nan_note is None and np.isnan(values).any():
            self.nan_note = work.nan_source(grid, points, layout)
        if self.inf_note is None and np.isinf(values).any():
            self.inf_note = work.nan_source(grid, points, layout, infinite=True)
            self.inf_first = no_nan_before
        return values

    @abstractmethod
    def evaluate(self, points: np.ndarray) -> np.ndarray:
        """Objective values at each row of ``points``.

        Parameters
        ----------
        points : ndarray, shape (m, n)
            The batch: m parameter vectors of length n.

        Returns
        -------
        ndarray, shape (m,)
            One float64 value per point.
        """

    def end_iteration(self) -> dict:
        """An optimizer iteration ended: numbers on its rounds, for its progress line.

        Called once per iteration by rank 0's optimizer; an evaluator may also use it to
        rebalance its work between iterations.
        """
        return {}

    def balance(self) -> BalanceReport | None:
        """How evenly the ranks' model time was spread (None when not measured)."""
        return None


@dataclass(frozen=True)
class RankStats:
    """Where one rank's time went during a fit.

    Attributes
    ----------
    model : float
        Seconds computing this rank's shares of batches (the model).
    waiting : float
        Seconds waiting for other ranks in collectives.
    rounds : int
        Rounds this rank took part in.
    total : float
        Seconds from the start of the job to its end, on this rank.
    """

    model: float
    waiting: float
    rounds: int
    total: float


@dataclass(frozen=True)
class JobOutcome:
    """What a job (serial or collective) returns on every rank.

    Attributes
    ----------
    result : object
        What rank 0's task returned.
    stats : list of RankStats
        Each rank's time accounting, in rank order.
    """

    result: Any
    stats: list[RankStats]


@dataclass
class RankClock:
    """Where one rank's time goes while a job runs (read out as :class:`RankStats`)."""

    model: float = 0.0
    waiting: float = 0.0
    rounds: int = 0
    started: float = field(default_factory=time.perf_counter)

    def summary(self) -> RankStats:
        """Seconds in the model, seconds waiting for other ranks, rounds, seconds in all."""
        return RankStats(model=self.model, waiting=self.waiting, rounds=self.rounds,
                         total=time.perf_counter() - self.started)


def compute_share(work, points: np.ndarray, pieces: list, clock: RankClock
                  ) -> tuple[np.ndarray, list]:
    """A rank's payload for a batch and its pieces' seconds, counted as one round on ``clock``.

    The one place a rank's rounds and model time are counted, serial or MPI.
    """
    t0 = time.perf_counter()
    try:
        return work.compute(points, pieces)
    finally:
        clock.model += time.perf_counter() - t0
        clock.rounds += 1
