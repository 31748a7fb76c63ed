"""The serial evaluator: every point of a batch computed in turn on this process."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._validation import objective_value
from .base import Evaluator

__all__ = ["SerialEvaluator"]


class SerialEvaluator(Evaluator):
    """Evaluate a plain objective callable on each point of a batch.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> float``; receives a copy of each point, so it may modify it.
    args : tuple, optional
        Extra arguments for ``fun``.
    name : str, optional
        How to name ``fun`` in error messages (``f`` for fmin_cg, ``fun`` for minimize).
    """

    def __init__(self, fun: Callable[..., float], args: tuple = (), name: str = "fun"):
        self.fun = fun
        self.args = args
        self.name = name

    def evaluate(self, points: np.ndarray) -> np.ndarray:
        """Objective values at each row of ``points``, one call of ``fun`` each."""
        values = np.empty(len(points))
        for i, x in enumerate(points):
            values[i] = objective_value(self.fun(np.copy(x), *self.args), self.name, x)
        return values
