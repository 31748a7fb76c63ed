"""The serial evaluator: a work's whole batch computed on this process.

This is the serial path of the collective machinery: the same :class:`~.sharing.Work` that
MPI ranks share is computed here in one piece, and assembled by the same code, which is what
keeps serial and MPI results bitwise equal.
"""

from __future__ import annotations

import numpy as np

from .base import Evaluator, RankClock, compute_share
from .sharing import Work

__all__ = ["SerialEvaluator"]


class SerialEvaluator(Evaluator):
    """Run a work entirely on this process.

    Parameters
    ----------
    work : Work
        What to compute (made for one rank: ``n_ranks=1, rank=0``).
    clock : RankClock, optional
        Where this process's time is counted.
    """

    def __init__(self, work: Work, clock: RankClock | None = None):
        self.work = work
        self.clock = clock or RankClock()

    def evaluate(self, points: np.ndarray) -> np.ndarray:
        """Compute and assemble the whole batch here."""
        payloads = [compute_share(self.work, points, self.clock)]
        return self.note_nan(self.work, payloads, points,
                             self.work.assemble(payloads, points))
