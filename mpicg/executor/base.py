"""The evaluator interface: a batch of parameter vectors in, objective values out."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Evaluator", "RankClock"]


class Evaluator(ABC):
    """Computes objective values for a batch of parameter vectors.

    This is the seam between the optimizer, which runs on one process, and whatever
    computes the values: one process (:class:`~mpicg.executor.serial.SerialEvaluator`) or
    every MPI rank. Implementations must return, for the same points, the same bits
    however many processes they use.
    """

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

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release what the evaluator holds (nothing, by default)."""

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


@dataclass
class RankClock:
    """Where one rank's time went during a fit."""

    model: float = 0.0
    waiting: float = 0.0
    rounds: int = 0
    started: float = field(default_factory=time.perf_counter)

    def summary(self) -> dict:
        """Seconds in the model, seconds waiting for other ranks, rounds, seconds in all."""
        return {"model": self.model, "waiting": self.waiting, "rounds": self.rounds,
                "total": time.perf_counter() - self.started}
