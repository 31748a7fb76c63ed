"""The Moré–Thuente line search (MINPACK-2 ``dcsrch`` and ``dcstep``).

Written from J. J. Moré and D. J. Thuente, "Line search algorithms with guaranteed
sufficient decrease", ACM TOMS 20 (1994) 286–307, and the MINPACK-2 description of
``dcsrch``/``dcstep``. The search finds a step ``stp > 0`` satisfying the strong Wolfe
conditions

    phi(stp) <= phi(0) + ftol * stp * phi'(0)        (sufficient decrease)
    |phi'(stp)| <= gtol * |phi'(0)|                  (curvature)

by keeping an interval of uncertainty ``[stx, sty]`` and choosing each trial by safeguarded
cubic, quadratic and secant interpolation. It needs ``phi`` and ``phi'`` together at every
trial, which is why mpicg evaluates a trial step as one batch (the point and its
finite-difference neighbours).

Everything here is a pure function of scalars or of a scalar callable: no arrays, no MPI.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["MoreThuenteResult", "more_thuente_search", "safeguarded_step"]

# Extrapolation bounds of dcsrch: while no minimizer is bracketed the next trial lies in
# [stp + XTRAPL (stp - stx), stp + XTRAPU (stp - stx)].
XTRAPL = 1.1
XTRAPU = 4.0
# A bisection is forced when the interval did not shrink by this factor in two trials.
SHRINK = 0.66

#: Outcomes of one dcsrch update. ``FG`` asks for phi and phi' at the returned step.
FG = "FG"
CONVERGENCE = "CONVERGENCE"


def _opposite_signs(a: float, b: float) -> bool:
    return (a < 0.0 < b) or (b < 0.0 < a)


def _cubic_gamma(theta, d1, d2, clip: bool = False):
    """The square-root term of the cubic's minimizer, scaled by s to avoid overflow.

    ``theta`` is ``3 (f1 - f2) / (t2 - t1) + d1 + d2`` for the cubic through two points with
    slopes ``d1`` and ``d2``. With ``clip``, a negative radicand counts as 0 (the cubic does
    not tend to infinity in the direction of the step).
    """
    s = max(abs(theta), abs(d1), abs(d2))
    # ``** 2`` (C's pow), not a product: the two round differently in about 1 case of 1,000,
    # and scipy's dcstep squares with ``**``, so a product split its iterates from scipy's.
    radicand = (theta / s) ** 2 - (d1 / s) * (d2 / s)
    return s * np.sqrt(max(0.0, radicand) if clip else radicand)


def safeguarded_step(
    stx: float, fx: float, dx: float,
    sty: float, fy: float, dy: float,
    stp: float, fp: float, dp: float,
    brackt: bool, stpmin: float, stpmax: float,
) -> tuple[float, float, float, float, float, float, float, bool]:
    """One step of ``dcstep``: a safeguarded trial step and the updated interval.

    Parameters
    ----------
    stx, fx, dx : float
        The best step so far, with its function value and derivative.
    sty, fy, dy : float
        The other end point of the interval of uncertainty.
    stp, fp, dp : float
        The current step, with its function value and derivative.
    brackt : bool
        Whether a minimizer has been bracketed.
    stpmin, stpmax : float
        Bounds for the new step while nothing is bracketed.

    Returns
    -------
    tuple
        ``(stx, fx, dx, sty, fy, dy, stp, brackt)`` with ``stp`` the next trial step.

    Notes
    -----
    The four cases are those of Moré & Thuente (1994), section 4. Non-finite values are
    allowed to propagate (a NaN step tells the caller to give up), so the arithmetic runs
    on numpy scalars with floating-point errors silenced.
    """
    stx, fx, dx, sty, fy, dy, stp, fp, dp = (
        np.float64(v) for v in (stx, fx, dx, sty, fy, dy, stp, fp, dp)
    )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        opposite = _opposite_signs(dp, dx)
        if fp > fx:
            # Case 1: a higher function value; the minimum is bracketed. Take the cubic step
            # if it is closer to stx than the quadratic step, else their average.
            theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
            gamma = _cubic_gamma(theta, dx, dp)
            if stp < stx:
                gamma = -gamma
            p = (gamma - dx) + theta
            q = ((gamma - dx) + gamma) + dp
            stpc = stx + (p / q) * (stp - stx)
            stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx)
            nearer_cubic = abs(stpc - stx) <= abs(stpq - stx)
            stpf = stpc if nearer_cubic else stpc + (stpq - stpc) / 2.0
            brackt = True
        elif opposite:
            # Case 2: lower value, derivatives of opposite sign; bracketed. Take the cubic
            # step if it is farther from stp than the secant step, else the secant step.
            theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
            gamma = _cubic_gamma(theta, dx, dp)
            if stp > stx:
                gamma = -gamma
            p = (gamma - dp) + theta
            q = ((gamma - dp) + gamma) + dx
            stpc = stp + (p / q) * (stx - stp)
            stpq = stp + (dp / (dp - dx)) * (stx - stp)
            stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
            brackt = True
        elif abs(dp) < abs(dx):
            # Case 3: lower value, same-sign derivatives, |derivative| decreasing. The cubic
            # step is used only if the cubic tends to infinity in the direction of the step
            # or its minimum lies beyond stp; otherwise the step goes to the bound.
            theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
            gamma = _cubic_gamma(theta, dx, dp, clip=True)
            if stp > stx:
                gamma = -gamma
            p = (gamma - dp) + theta
            q = (gamma + (dx - dp)) + gamma
            r = p / q
            if r < 0.0 and gamma != 0.0:
                stpc = stp + r * (stx - stp)
            elif stp > stx:
                stpc = np.float64(stpmax)
            else:
                stpc = np.float64(stpmin)
            stpq = stp + (dp / (dp - dx)) * (stx - stp)
            if brackt:
                # Bracketed: the step closer to stp, but no farther than 0.66 of the way
                # to sty.
                stpf = stpc if abs(stpc - stp) < abs(stpq - stp) else stpq
                if stp > stx:
                    stpf = min(stp + SHRINK * (sty - stp), stpf)
                else:
                    stpf = max(stp + SHRINK * (sty - stp), stpf)
            else:
                stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
                stpf = min(max(stpf, stpmin), stpmax)
        elif brackt:
            # Case 4, bracketed: lower value, same-sign derivatives, |derivative| not
            # decreasing: the cubic step through stp and sty.
            theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp
            gamma = _cubic_gamma(theta, dy, dp)
            if stp > sty:
                gamma = -gamma
            p = (gamma - dp) + theta
            q = ((gamma - dp) + gamma) + dy
            stpf = stp + (p / q) * (sty - stp)
        else:
            # Case 4, not bracketed: go to the bound in the direction of the step.
            stpf = np.float64(stpmax if stp > stx else stpmin)

    # Update the interval of uncertainty.
    if fp > fx:
        sty, fy, dy = stp, fp, dp
    else:
        if opposite:
            sty, fy, dy = stx, fx, dx
        stx, fx, dx = stp, fp, dp
    return stx, fx, dx, sty, fy, dy, stpf, brackt


class _Dcsrch:
    """The state of one ``dcsrch`` search between trial evaluations."""

    def __init__(self, ftol: float, gtol: float, xtol: float, stpmin: float, stpmax: float):
        self.ftol, self.gtol, self.xtol = ftol, gtol, xtol
        self.stpmin, self.stpmax = stpmin, stpmax

    def start(self, stp: float, f: float, g: float) -> tuple[float, str]:
        """Check the arguments and set up the interval; ``FG`` or an ``ERROR`` task."""
        errors = [
            (stp < self.stpmin, "ERROR: STP .LT. STPMIN"),
            (stp > self.stpmax, "ERROR: STP .GT. STPMAX"),
            (g >= 0, "ERROR: INITIAL G .GE. ZERO"),
            (self.ftol < 0, "ERROR: FTOL .LT. ZERO"),
            (self.gtol < 0, "ERROR: GTOL .LT. ZERO"),
            (self.xtol < 0, "ERROR: XTOL .LT. ZERO"),
            (self.stpmin < 0, "ERROR: STPMIN .LT. ZERO"),
            (self.stpmax < self.stpmin, "ERROR: STPMAX .LT. STPMIN"),
        ]
        failed = [task for bad, task in errors if bad]
        if failed:
            # dcsrch reports the last failed check.
            return stp, failed[-1]
        self.brackt = False
        self.stage = 1
        self.finit, self.ginit = f, g
        self.gtest = self.ftol * self.ginit
        self.width = self.stpmax - self.stpmin
        self.width1 = self.width / 0.5
        self.stx, self.fx, self.gx = 0.0, f, g
        self.sty, self.fy, self.gy = 0.0, f, g
        self.stmin = 0.0
        self.stmax = stp + XTRAPU * stp
        return stp, FG

    def update(self, stp: float, f: float, g: float) -> tuple[float, str]:
        """Take phi and phi' at ``stp``; return the next trial step and the task."""
        ftest = self.finit + stp * self.gtest
        # psi(stp) <= 0 and phi'(stp) >= 0: the search enters its second stage, where the
        # function itself (not the auxiliary psi) is modelled.
        if self.stage == 1 and f <= ftest and g >= 0:
            self.stage = 2

        task = FG
        if self.brackt and (stp <= self.stmin or stp >= self.stmax):
            task = "WARNING: ROUNDING ERRORS PREVENT PROGRESS"
        if self.brackt and self.stmax - self.stmin <= self.xtol * self.stmax:
            task = "WARNING: XTOL TEST SATISFIED"
        if stp == self.stpmax and f <= ftest and g <= self.gtest:
            task = "WARNING: STP = STPMAX"
        if stp == self.stpmin and (f > ftest or g >= self.gtest):
            task = "WARNING: STP = STPMIN"
        if f <= ftest and abs(g) <= self.gtol * -self.ginit:
            task = CONVERGENCE
        if task != FG:
            return stp, task

        if self.stage == 1 and f <= self.fx and f > ftest:
            # A lower value without sufficient decrease: step on the modified function
            # psi(a) = phi(a) - phi(0) - ftol a phi'(0) (Moré & Thuente, section 3).
            gtest = self.gtest
            stx, fxm, gxm, sty, fym, gym, stp, self.brackt = safeguarded_step(
                self.stx, self.fx - self.stx * gtest, self.gx - gtest,
                self.sty, self.fy - self.sty * gtest, self.gy - gtest,
                stp, f - stp * gtest, g - gtest,
                self.brackt, self.stmin, self.stmax,
            )
            self.stx, self.sty = stx, sty
            self.fx = fxm + stx * gtest
            self.fy = fym + sty * gtest
            self.gx = gxm + gtest
            self.gy = gym + gtest
        else:
            (self.stx, self.fx, self.gx, self.sty, self.fy, self.gy, stp,
             self.brackt) = safeguarded_step(
                self.stx, self.fx, self.gx, self.sty, self.fy, self.gy,
                stp, f, g, self.brackt, self.stmin, self.stmax,
            )

        if self.brackt:
            # Force a bisection when the interval does not shrink fast enough.
            if abs(self.sty - self.stx) >= SHRINK * self.width1:
                stp = self.stx + 0.5 * (self.sty - self.stx)
            self.width1 = self.width
            self.width = abs(self.sty - self.stx)
            self.stmin = min(self.stx, self.sty)
            self.stmax = max(self.stx, self.sty)
        else:
            self.stmin = stp + XTRAPL * (stp - self.stx)
            self.stmax = stp + XTRAPU * (stp - self.stx)

        stp = min(max(stp, self.stpmin), self.stpmax)
        # If no further progress is possible, fall back to the best step so far.
        if self.brackt and (
            stp <= self.stmin or stp >= self.stmax
            or self.stmax - self.stmin <= self.xtol * self.stmax
        ):
            stp = self.stx
        return stp, FG


@dataclass(frozen=True)
class MoreThuenteResult:
    """What a Moré–Thuente search ended with.

    Attributes
    ----------
    step : float or None
        The accepted step, or None when the search failed (a warning, an error, a
        non-finite trial step or too many iterations).
    phi : float
        phi at the last trial step evaluated (phi(0) if none was).
    task : str
        ``"CONVERGENCE"``, or the ``WARNING``/``ERROR`` text of dcsrch.
    n_trials : int
        How many trial steps were evaluated.
    """

    step: float | None
    phi: float
    task: str
    n_trials: int


def more_thuente_search(
    phi_and_derivative: Callable[[float], tuple[float, float]],
    alpha1: float,
    phi0: float,
    derphi0: float,
    ftol: float,
    gtol: float,
    xtol: float = 1e-14,
    stpmin: float = 1e-100,
    stpmax: float = 1e100,
    maxiter: int = 100,
) -> MoreThuenteResult:
    """Search for a step satisfying the strong Wolfe conditions.

    Parameters
    ----------
    phi_and_derivative : callable
        ``phi_and_derivative(stp) -> (phi(stp), phi'(stp))``; called once per trial step.
    alpha1 : float
        The first trial step.
    phi0, derphi0 : float
        phi(0) and phi'(0); ``derphi0`` must be negative (a descent direction).
    ftol, gtol : float
        The sufficient-decrease (``c1``) and curvature (``c2``) constants.
    xtol : float, optional
        Relative width of the interval of uncertainty below which the search stops.
    stpmin, stpmax : float, optional
        Bounds on the step.
    maxiter : int, optional
        Number of dcsrch calls, the initial one included; each call that asks for a new
        trial evaluates it, so at most ``maxiter`` trials are evaluated.

    Returns
    -------
    MoreThuenteResult
        The accepted step (None on failure) and how the search ended.
    """
    search = _Dcsrch(ftol, gtol, xtol, stpmin, stpmax)
    phi1, derphi1 = phi0, derphi0
    stp = alpha1
    n_trials = 0
    for i in range(maxiter):
        if i == 0:
            stp, task = search.start(stp, phi0, derphi0)
        else:
            stp, task = search.update(stp, phi1, derphi1)
        if not math.isfinite(stp):
            return MoreThuenteResult(None, phi1, "WARNING: NON-FINITE STEP", n_trials)
        if task != FG:
            break
        phi1, derphi1 = phi_and_derivative(stp)
        n_trials += 1
    else:
        # The last trial was evaluated but never judged: dcsrch ran out of updates.
        return MoreThuenteResult(None, phi1, "WARNING: MAXITER REACHED", n_trials)
    return MoreThuenteResult(stp if task == CONVERGENCE else None, phi1, task, n_trials)
