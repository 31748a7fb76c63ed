"""The objective as the optimizer sees it: values and gradients computed in batches.

:class:`BatchedObjective` is the only door between the optimizer and whoever computes
objective values (an evaluator: serial, or MPI ranks). It asks for values in batches — a
finite-difference gradient is one batch, a line-search trial that needs f and its gradient is
one batch (n+1 points with forward differences, 2n+1 with central ones) — and it remembers
the last point it saw, so that asking for the gradient where the value is already known costs
only the perturbed points.

The memory holds exactly one point and the counters count exactly what scipy's
``ScalarFunction`` counts (every objective value, finite-difference points included, in
``nfev``; every gradient in ``njev``), so mpicg reports scipy's numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from .finite_differences import ComplexStep, FiniteDifference

__all__ = ["BatchEvaluator", "BatchedObjective", "GradientCallable", "ValueAndGradient"]

GradientCallable = Callable[[np.ndarray], np.ndarray]


class BatchEvaluator(Protocol):
    """Anything that turns a batch of parameter vectors into objective values."""

    def evaluate(self, points: np.ndarray) -> np.ndarray:
        """Objective values at ``points`` (shape ``(m, n)``), as a float array of shape (m,)."""


class BatchedObjective:
    """Objective values and gradients through a batch evaluator, with scipy's counting.

    Parameters
    ----------
    evaluator : BatchEvaluator
        Computes objective values for a batch of points.
    n : int
        Number of parameters.
    gradient : FiniteDifference or callable
        A finite-difference rule (values come from ``evaluator``), or a callable returning
        the gradient at a point (an analytic gradient, called on this process).
    gradient_name : str, optional
        How to name the gradient callable in error messages (``fprime``, ``jac``).
    """

    def __init__(self, evaluator: BatchEvaluator, n: int,
                 gradient: FiniteDifference | GradientCallable,
                 gradient_name: str = "fprime"):
        self.evaluator = evaluator
        self.n = n
        self.gradient_rule = gradient
        self.gradient_name = gradient_name
        self.nfev = 0
        self.njev = 0
        self.rounds = 0
        self._x: np.ndarray | None = None
        self._f: float | None = None
        self._g: np.ndarray | None = None

    # -- the one-point memory ------------------------------------------------------------
    def _move_to(self, x: np.ndarray) -> None:
        if self._x is None or not np.array_equal(x, self._x):
            self._x = np.array(x, dtype=float)  # a copy: the caller may reuse its array
            self._f = None
            self._g = None

    def _evaluate(self, points: np.ndarray) -> np.ndarray:
        values = np.asarray(self.evaluator.evaluate(points), dtype=float)
        self.rounds += 1
        self.nfev += len(points)
        return values

    def snapshot(self) -> tuple[dict, dict]:
        """The counters and the remembered point (for a progress file)."""
        counters = {"nfev": self.nfev, "njev": self.njev, "rounds": self.rounds}
        return counters, {"x": self._x, "f": self._f, "g": self._g}

    def restore(self, counters: dict, memory: dict) -> None:
        """Continue from :meth:`snapshot`'s output, so counts and reuse match an unbroken run."""
        self.nfev, self.njev, self.rounds = (int(counters[k]) for k in ("nfev", "njev",
                                                                         "rounds"))
        self._x, self._f, self._g = memory["x"], memory["f"], memory["g"]

    # -- what the optimizer asks for -------------------------------------------------------
    def value(self, x: np.ndarray) -> float:
        """The objective at ``x`` (one evaluation, unless ``x`` is the remembered point)."""
        self._move_to(x)
        if self._f is None:
            self._f = float(self._evaluate(self._x[np.newaxis, :])[0])
        return self._f

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """The gradient at ``x``; f(x) too, in the same batch, when finite differences need it."""
        self._move_to(x)
        if self._g is None:
            rule = self.gradient_rule
            if isinstance(rule, FiniteDifference):
                h = rule.steps(self._x)
                points = rule.points(self._x, h)
                if self._f is None:
                    values = self._evaluate(np.vstack([self._x[np.newaxis, :], points]))
                    self._f = float(values[0])
                    values = values[1:]
                else:
                    values = self._evaluate(points)
                self._g = rule.gradient(self._x, h, self._f, values)
            else:
                self._g = self._call_gradient(rule)
                if isinstance(rule, ComplexStep):  # it computed n objective values itself
                    self.nfev += rule.evaluations(self.n)
            self.njev += 1
        return self._g

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """F and its gradient at ``x``: one batch with finite differences (n+1 or 2n+1 points)."""
        if isinstance(self.gradient_rule, FiniteDifference):
            g = self.gradient(x)  # evaluates f(x) in the same batch when it is not known
            return self._f, g
        return self.value(x), self.gradient(x)

    def _call_gradient(self, jac: GradientCallable) -> np.ndarray:
        returned = jac(np.copy(self._x))
        g = np.asarray(returned) if returned is not None else None
        if g is None or g.dtype.kind not in "iuf":
            raise TypeError(f"gradient `{self.gradient_name}` must return an array of real "
                            f"numbers of shape ({self.n},); it returned {returned!r:.200}")
        g = np.atleast_1d(g.astype(np.float64))
        if g.shape != (self.n,):
            raise ValueError(
                f"gradient `{self.gradient_name}` must return a 1-D array of shape "
                f"({self.n},) like x0; it returned shape {g.shape}: {g!r}"
            )
        return g


class ValueAndGradient:
    """``fun`` returning ``(f, g)`` (scipy's ``jac=True``) seen as two functions.

    ``fun`` is called once per point; :meth:`value` and :meth:`gradient` at the same point
    share that call.
    """

    def __init__(self, fun: Callable, args: tuple):
        self.fun, self.args = fun, args
        self._x = None
        self._f = self._g = None

    def _compute(self, x: np.ndarray) -> None:
        if self._x is None or not np.array_equal(x, self._x):
            out = self.fun(np.copy(x), *self.args)
            if not (isinstance(out, tuple | list) and len(out) == 2):
                raise TypeError("with jac=True, `fun` must return a pair (f, gradient); "
                                f"it returned {out!r}")
            self._x = np.copy(x)
            self._f, self._g = out

    def value(self, x: np.ndarray):
        """F at ``x``."""
        self._compute(x)
        return self._f

    def gradient(self, x: np.ndarray):
        """The gradient at ``x``."""
        self._compute(x)
        return self._g
