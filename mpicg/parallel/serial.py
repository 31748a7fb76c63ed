"""The serial evaluator: a work's whole batch computed on this process.

This is the serial path of the collective machinery: the same :class:`~.sharing.Work` that
MPI ranks share is computed here in one piece, and assembled by the same code, which is what
keeps serial and MPI results bitwise equal.
"""

from __future__ import annotations

import numpy as np

from .balance import BalanceReport
from .base import Evaluator, RankClock, compute_share
from .layout import Layout
from .sharing import Work

__all__ = ["SerialEvaluator"]


class SerialEvaluator(Evaluator):
    """Run a work entirely on this process.

    Parameters
    ----------
    work : Work
        What to compute.
    clock : RankClock, optional
        Where this process's time is counted.
    """

    def __init__(self, work: Work, clock: RankClock | None = None):
        self.work = work
        self.clock = clock or RankClock()

    def evaluate(self, points: np.ndarray) -> np.ndarray:
        """Compute the whole grid here and assemble it."""
        points = np.ascontiguousarray(points, dtype=np.float64)
        layout = Layout.whole_points(len(points), self.work.n_blocks, 1)
        payload, _ = compute_share(self.work, points, layout.pieces(0), self.clock)
        grid = payload.reshape(len(points), self.work.n_blocks)
        return self.note_nan(self.work, grid, points, self.work.values(grid, points))

    def end_iteration(self) -> dict:
        """One rank is always balanced."""
        return {"imbalance": 1.0}

    def balance(self) -> BalanceReport:
        """One rank: imbalance 1."""
        return BalanceReport(self.work.sharing_name, 1.0, 1.0, 0)
