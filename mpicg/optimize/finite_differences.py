"""Finite-difference gradients as batches of points.

A gradient is one batch: the optimizer builds every perturbed point up front, the evaluator
computes them all at once (on every rank, under MPI), and the gradient is assembled from the
returned values. The step rules are those users know from scipy:

* ``forward`` — forward differences with an absolute step ``epsilon`` (scalar or one per
  parameter), what ``fmin_cg`` and ``minimize(jac=None)`` use; ``central`` — the same step,
  both sides (a named fit's ``fd_scheme='central'``);
* ``2-point`` and ``3-point`` — forward and central differences with a relative step, what
  ``minimize(jac='2-point')`` and ``jac='3-point'`` use; :class:`ComplexStep` is scipy's
  ``jac='cs'``. With the default relative step
  (``eps**(1/2)`` and ``eps**(1/3)``) the step is ``h = rel_step * sign(x) * max(1, |x|)``;
  with a given ``finite_diff_rel_step`` it is ``h = rel_step * sign(x) * |x|``, as in scipy
  (``sign(0) = 1``).

In every rule the divisor is the step as the arithmetic actually made it, ``(x + h) - x``,
not the nominal ``h``; and a step that vanishes in ``x + h`` (x huge, or a relative step at
x = 0) is replaced by the default relative one, so no column is ever divided by zero.

A rule may be given bounds (``lower``, ``upper``: a named fit's parameter domains and prior
supports). Without them every rule is scipy's, bit for bit. With them, no point leaves the
box: a forward step that would cross a bound is taken backwards, and a central difference
whose one side would cross becomes the one-sided second-order difference
``(-3 f(x) + 4 f(x + h) - f(x + 2h)) / (2h)`` towards the other side, as scipy's
``approx_derivative`` does with ``bounds``. The number of points per gradient is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import InputError, check_step

__all__ = ["EPSILON", "ComplexStep", "FiniteDifference", "FunctionWithArgs", "gradient_rule"]

_EPS = np.finfo(np.float64).eps
#: scipy's default absolute finite-difference step, sqrt(machine epsilon).
EPSILON = float(np.sqrt(_EPS))
DEFAULT_RELATIVE_STEP = {"forward": _EPS**0.5, "2-point": _EPS**0.5, "3-point": _EPS ** (1 / 3),
                         "central": _EPS ** (1 / 3)}
_CENTRAL = ("3-point", "central")


def _sign(x: np.ndarray) -> np.ndarray:
    # +1 for x >= 0: a step at zero goes forward, as in scipy.
    return (x >= 0).astype(float) * 2 - 1


@dataclass(frozen=True)
class FiniteDifference:
    """A finite-difference rule for the gradient of a scalar objective.

    Parameters
    ----------
    method : {'forward', 'central', '2-point', '3-point'}
        Forward differences with an absolute step (scipy's ``epsilon``); central differences
        with an absolute step; or scipy's relative-step schemes.
    abs_step : float or ndarray, optional
        The absolute step of ``'forward'``/``'central'``, scalar or one per parameter. With
        ``rel_step`` too, NaN entries of ``abs_step`` take the relative step instead (mixed
        per-parameter steps of a named fit).
    rel_step : float or ndarray, optional
        The relative step (``h = rel_step * sign(x) * |x|``) of ``'2-point'``/``'3-point'``,
        or of the parameters whose ``abs_step`` is NaN; None for the default.
    lower, upper : ndarray, optional
        Closed bounds no point may cross (``-inf``/``inf`` where there is none); None for
        none (scipy's rules).
    """

    method: str = "forward"
    abs_step: float | np.ndarray | None = None
    rel_step: float | np.ndarray | None = None
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None

    def _inside(self, values: np.ndarray) -> np.ndarray:
        inside = np.ones(values.shape, dtype=bool)
        if self.lower is not None:
            inside &= values >= self.lower
        if self.upper is not None:
            inside &= values <= self.upper
        return inside

    def directions(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        """Per parameter: 0 for a central difference, +1 or -1 for a one-sided one.

        Only central rules with bounds are ever one-sided: towards the side where both
        ``x + h`` and ``x + 2h`` stay inside when ``x - h`` or ``x + h`` would not.
        """
        side = np.zeros(x.shape, dtype=int)
        if self.method not in _CENTRAL or (self.lower is None and self.upper is None):
            return side
        h = np.abs(h)
        blocked = ~(self._inside(x - h) & self._inside(x + h))
        forward_fits = self._inside(x + 2 * h)
        backward_fits = self._inside(x - 2 * h)
        side[blocked & forward_fits] = 1
        side[blocked & ~forward_fits & backward_fits] = -1
        return side

    def steps(self, x: np.ndarray) -> np.ndarray:
        """The step for each parameter at ``x`` (one float per parameter)."""
        default = DEFAULT_RELATIVE_STEP[self.method] * _sign(x) * np.maximum(1.0, np.abs(x))
        if self.method in ("forward", "central"):
            h = np.broadcast_to(np.asarray(self.abs_step, dtype=float), x.shape)
            if self.rel_step is not None:
                h = np.where(np.isnan(h), self.rel_step * _sign(x) * np.abs(x), h)
        elif self.rel_step is None:
            return default
        else:
            h = self.rel_step * _sign(x) * np.abs(x)
        # A step lost in x + h (x huge, or x == 0 with a relative step) would divide by 0.
        h = np.where((x + h) - x == 0, default, h)
        if self.method not in _CENTRAL and (self.lower is not None or self.upper is not None):
            # A forward step that would leave the box goes backwards instead.
            h = np.where(~self._inside(x + h) & self._inside(x - h), -h, h)
        return h

    def points(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        """The perturbed points, one row each, in the order :meth:`gradient` expects."""
        n = x.size
        if self.method in _CENTRAL:
            # Rows alternate x - h_i e_i, x + h_i e_i (one-sided: x + d h_i e_i,
            # x + 2 d h_i e_i).
            side = self.directions(x, h)
            pts = np.repeat(x[np.newaxis, :], 2 * n, axis=0)
            idx = np.arange(n)
            step = np.abs(h) * side
            pts[2 * idx, idx] = np.where(side == 0, x - h, x + step)
            pts[2 * idx + 1, idx] = np.where(side == 0, x + h, x + 2 * step)
            return pts
        pts = np.repeat(x[np.newaxis, :], n, axis=0)
        pts[np.arange(n), np.arange(n)] = x + h
        return pts

    def gradient(self, x: np.ndarray, h: np.ndarray, f0: float, values: np.ndarray) -> np.ndarray:
        """Assemble the gradient from f(x) and the values at :meth:`points`."""
        # inf - inf (a trial step beyond a prior's support) gives NaN, as in scipy; the line
        # search then backs off, so the arithmetic warning is noise.
        with np.errstate(invalid="ignore", over="ignore"):
            if self.method in _CENTRAL:
                lower, upper = values[0::2], values[1::2]
                central = (upper - lower) / ((x + h) - (x - h))
                side = self.directions(x, h)
                if not side.any():
                    return central
                step = np.abs(h) * np.where(side == 0, 1, side)  # no 0/0 where unused
                one_sided = (-3 * f0 + 4 * lower - upper) / (2 * ((x + step) - x))
                return np.where(side == 0, central, one_sided)
            return (values - f0) / ((x + h) - x)


class ComplexStep:
    """scipy's ``jac='cs'``: the complex-step derivative, ``g_i = Im f(x + i h_i e_i) / h_i``.

    Squire & Trapp, SIAM Review 40 (1998) 110: for an ``f`` that is analytic and computed
    with complex arithmetic, the derivative has no subtractive cancellation, so it is exact
    to rounding for any small ``h``. The step is scipy's: ``h = sqrt(eps) * sign(x) *
    max(1, |x|)``, or ``h = rel_step * sign(x) * |x|`` with ``finite_diff_rel_step``
    (falling back to the former where ``(x + h) - x == 0``).

    The n points are complex, so they are evaluated here, in the process running the
    optimizer (through ``workers`` when given), not shared out like real batches; each
    counts in ``nfev`` (``evaluations``), as in scipy.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args)`` accepting complex ``x`` and returning a (complex) scalar.
    args : tuple
        Extra arguments.
    rel_step : float or ndarray, optional
        scipy's ``finite_diff_rel_step``.
    mapper : callable, optional
        ``mapper(function, points)``, map-like (scipy's ``workers``); default ``map``.
    """

    def __init__(self, fun, args: tuple = (), rel_step=None, mapper=None):
        self.fun, self.args, self.rel_step, self.mapper = fun, args, rel_step, mapper

    def steps(self, x: np.ndarray) -> np.ndarray:
        """The step for each parameter at ``x``."""
        default = _EPS ** 0.5 * _sign(x) * np.maximum(1.0, np.abs(x))
        if self.rel_step is None:
            return default
        h = self.rel_step * _sign(x) * np.abs(x)
        return np.where((x + h) - x == 0, default, h)

    def evaluations(self, n: int) -> int:
        """Objective values one gradient costs: one per parameter."""
        return n

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The gradient at ``x`` (real, shape (n,))."""
        h = self.steps(x)
        points = np.repeat(x[np.newaxis, :].astype(complex), x.size, axis=0)
        points[np.arange(x.size), np.arange(x.size)] += h * 1j
        call = FunctionWithArgs(self.fun, self.args)
        values = list((self.mapper or map)(call, list(points)))
        imag = np.empty(x.size)
        for i, value in enumerate(values):
            arr = np.asarray(value)
            if arr.dtype.kind not in "biufc" or arr.size != 1:
                raise TypeError(f"with jac='cs', `fun` must return a scalar; it returned "
                                f"{value!r:.200} at a complex point")
            imag[i] = np.imag(arr.reshape(()))
        return imag / h


class FunctionWithArgs:
    """``fun(x, *args)`` as a picklable one-argument callable (for a process pool's map).

    Parameters
    ----------
    fun : callable
        The objective.
    args : tuple
        Its extra arguments.
    """

    def __init__(self, fun, args: tuple = ()):
        self.fun, self.args = fun, args

    def __call__(self, x):
        """``fun(x, *args)``."""
        return self.fun(x, *self.args)


def gradient_rule(jac, epsilon, finite_diff_rel_step, n: int,
                  names: tuple[str, str] = ("jac", "epsilon")) -> FiniteDifference:
    """The finite-difference rule of scipy's ``jac`` in (None, '2-point', '3-point').

    Parameters
    ----------
    jac : {None, False, '2-point', '3-point'}
        None or False: forward differences with the absolute step ``epsilon``; otherwise
        scipy's relative-step schemes.
    epsilon : float or ndarray
        The absolute step(s), scalar or shape (n,).
    finite_diff_rel_step : float or ndarray or None
        The relative step(s) of ``'2-point'``/``'3-point'`` (None: the default).
    n : int
        The number of parameters.
    names : tuple of str
        How errors name ``jac`` and ``epsilon`` (their names in the caller's signature).

    Raises
    ------
    InputError
        ``jac`` is none of these; ValueError for a bad step.
    """
    jac_name, eps_name = names
    if jac is None or jac is False:
        return FiniteDifference("forward", abs_step=check_step(epsilon, n, eps_name))
    if isinstance(jac, str) and jac in ("2-point", "3-point"):
        rel = None if finite_diff_rel_step is None else check_step(
            finite_diff_rel_step, n, "finite_diff_rel_step")
        return FiniteDifference(jac, rel_step=rel)
    raise InputError(f"`{jac_name}` must be a callable, True, None (forward differences "
                     f"with step `{eps_name}`), '2-point' or '3-point' (or 'cs' in "
                     f"mpicg.minimize); got {jac!r}")
