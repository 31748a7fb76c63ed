"""Line searches and the CG iteration: strong Wolfe, sufficient descent, scipy agreement.

Property tests (hypothesis, derandomized so the suite is reproducible) draw random smooth
1-D functions phi with phi'(0) < 0 and random multi-D objectives, and check what each search
promises; parametrised cases pin the agreement with scipy's line searches.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from problems import PROBLEMS
from scipy.optimize._dcsrch import dcstep
from scipy.optimize._linesearch import (
    LineSearchWarning,
    _cubicmin,
    _quadmin,
    scalar_search_wolfe1,
    scalar_search_wolfe2,
)

from mpicg.optimize.cg import SIGMA_3, cg_iteration, initial_state, run_cg, vecnorm
from mpicg.optimize.finite_differences import FiniteDifference
from mpicg.optimize.linesearch import LineSearchError, first_trial_step, strong_wolfe_search
from mpicg.optimize.more_thuente import more_thuente_search, safeguarded_step
from mpicg.optimize.objective import BatchedObjective
from mpicg.optimize.zoom import cubic_minimizer, quadratic_minimizer, zoom_search
from mpicg.parallel import PointWork, SerialEvaluator

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


# -- random 1-D functions ----------------------------------------------------------------

@dataclass
class Phi:
    """A smooth phi(alpha) with phi'(0) < 0, counting and recording its evaluations."""

    label: str
    coeffs: tuple

    def __post_init__(self):
        self.value_steps: list[float] = []
        self.deriv_steps: list[float] = []

    def value(self, a):
        self.value_steps.append(a)
        return self._value(a)

    def deriv(self, a):
        self.deriv_steps.append(a)
        return self._deriv(a)

    def both(self, a):
        return self.value(a), self.deriv(a)

    def reset(self):
        self.value_steps.clear()
        self.deriv_steps.clear()

    # phi(a) = c0 + lin a + q a^2/2 + r a^4 + sum w_i exp(-k_i a) + sum v_i sin(m_i a + s_i)
    def _value(self, a):
        c0, lin, q, r, w, k, v, m, s = self.coeffs
        return (c0 + lin * a + 0.5 * q * a * a + r * a**4
                + math.fsum(wi * math.exp(-ki * a) for wi, ki in zip(w, k, strict=True))
                + math.fsum(vi * math.sin(mi * a + si) for vi, mi, si in zip(v, m, s,
                                                                            strict=True)))

    def _deriv(self, a):
        _, lin, q, r, w, k, v, m, s = self.coeffs
        return (lin + q * a + 4 * r * a**3
                - math.fsum(wi * ki * math.exp(-ki * a) for wi, ki in zip(w, k, strict=True))
                + math.fsum(vi * mi * math.cos(mi * a + si)
                            for vi, mi, si in zip(v, m, s, strict=True)))

    @property
    def phi0(self):
        return self._value(0.0)

    @property
    def derphi0(self):
        return self._deriv(0.0)


def _make_phi(label, derphi0, c0=0.0, q=0.0, r=0.0, w=(), k=(), v=(), m=(), s=()):
    # Pick the linear coefficient so that phi'(0) is exactly what was asked for (up to
    # rounding; the result is read back through Phi.derphi0).
    extra = (sum(-wi * ki for wi, ki in zip(w, k, strict=True))
             + sum(vi * mi * math.cos(si) for vi, mi, si in zip(v, m, s, strict=True)))
    return Phi(label, (c0, derphi0 - extra, q, r, tuple(w), tuple(k), tuple(v), tuple(m),
                       tuple(s)))


_finite = {"allow_nan": False, "allow_infinity": False}


@st.composite
def polynomial_phis(draw):
    """c0 + d0 a + q a^2/2 + r a^4: convex quadratics, and quartics that may dip first."""
    d0 = -draw(st.floats(1e-3, 10.0, **_finite))
    c0 = draw(st.floats(-10.0, 10.0, **_finite))
    quartic = draw(st.booleans())
    q = draw(st.floats(-2.0, 10.0, **_finite)) if quartic else draw(st.floats(1e-2, 10.0))
    r = draw(st.floats(1e-3, 3.0, **_finite)) if quartic else 0.0
    return _make_phi("quartic" if quartic else "quadratic", d0, c0=c0, q=q, r=r)


@st.composite
def exp_sin_phis(draw):
    """A quadratic bowl plus decaying exponentials and sines: wiggly but bounded below."""
    d0 = -draw(st.floats(1e-2, 10.0, **_finite))
    nterms = draw(st.integers(1, 3))
    w = draw(st.lists(st.floats(0.0, 2.0, **_finite), min_size=nterms, max_size=nterms))
    k = draw(st.lists(st.floats(0.1, 3.0, **_finite), min_size=nterms, max_size=nterms))
    v = draw(st.lists(st.floats(-1.0, 1.0, **_finite), min_size=nterms, max_size=nterms))
    m = draw(st.lists(st.floats(0.5, 5.0, **_finite), min_size=nterms, max_size=nterms))
    s = draw(st.lists(st.floats(0.0, 2 * math.pi, **_finite), min_size=nterms,
                      max_size=nterms))
    q = draw(st.floats(0.05, 10.0, **_finite))
    return _make_phi("exp-sin", d0, c0=draw(st.floats(-5.0, 5.0, **_finite)), q=q,
                     w=w, k=k, v=v, m=m, s=s)


phis = st.one_of(polynomial_phis(), exp_sin_phis())


@st.composite
def wolfe_constants(draw):
    c1 = draw(st.floats(1e-4, 0.45, **_finite))
    c2 = c1 + draw(st.floats(0.05, 1.0, **_finite)) * (0.99 - c1)
    return c1, c2


first_steps = st.floats(-3.0, 1.0, **_finite).map(lambda e: 10.0**e)


def _strong_wolfe(phi_a, derphi_a, a, phi0, derphi0, c1, c2):
    return phi_a <= phi0 + c1 * a * derphi0 and abs(derphi_a) <= c2 * abs(derphi0)


# -- Moré-Thuente -------------------------------------------------------------------------

@PROPERTY
@given(phi=phis, constants=wolfe_constants(), alpha1=first_steps)
def test_more_thuente_step_satisfies_strong_wolfe(phi, constants, alpha1):
    c1, c2 = constants
    phi0, derphi0 = phi.phi0, phi.derphi0
    res = more_thuente_search(phi.both, alpha1, phi0, derphi0, ftol=c1, gtol=c2)
    assert res.n_trials == len(phi.value_steps) == len(phi.deriv_steps)
    event(f"more-thuente {res.task}")
    if res.step is None:
        assert res.task.startswith(("WARNING", "ERROR"))
        return
    assert res.task == "CONVERGENCE"
    assert res.step > 0
    assert res.phi == phi._value(res.step)
    assert _strong_wolfe(res.phi, phi._deriv(res.step), res.step, phi0, derphi0, c1, c2)


_MT_CASES = [
    pytest.param(_make_phi("quadratic", -1.0, q=1.0), 1.0, 1e-4, 0.9, id="quadratic-exact"),
    pytest.param(_make_phi("quadratic", -1.0, q=100.0), 1.0, 1e-4, 0.4, id="quadratic-steep"),
    pytest.param(_make_phi("quadratic", -1.0, q=1e-3), 1e-3, 1e-4, 0.4, id="quadratic-flat"),
    pytest.param(_make_phi("quartic", -2.0, q=-1.0, r=0.5), 0.1, 1e-4, 0.1,
                 id="quartic-nonconvex"),
    pytest.param(_make_phi("exp-sin", -3.0, q=0.5, w=[1.0], k=[2.0], v=[0.8], m=[4.0],
                           s=[1.0]), 1.0, 0.2, 0.9, id="exp-sin-wiggly"),
    pytest.param(_make_phi("quartic", -1e-3, q=1e-4, r=1e-6), 1.0, 1e-3, 0.1,
                 id="quartic-far-minimum"),
]


@pytest.mark.parametrize(("phi", "alpha1", "c1", "c2"), _MT_CASES)
def test_more_thuente_converges_on_smooth_cases(phi, alpha1, c1, c2):
    phi.reset()
    res = more_thuente_search(phi.both, alpha1, phi.phi0, phi.derphi0, ftol=c1, gtol=c2)
    assert res.task == "CONVERGENCE"
    assert _strong_wolfe(res.phi, phi._deriv(res.step), res.step, phi.phi0, phi.derphi0,
                         c1, c2)


@pytest.mark.parametrize(
    ("phi", "stpmax", "maxiter", "task"),
    [
        (_make_phi("linear", -1.0), 10.0, 100, "WARNING: STP = STPMAX"),
        (_make_phi("linear", -1.0), 1e100, 100, "WARNING: MAXITER REACHED"),
        (_make_phi("quadratic", -200.0, q=2.0), 1e100, 3, "WARNING: MAXITER REACHED"),
    ],
    ids=["unbounded-hits-stpmax", "unbounded-runs-out", "maxiter-3"],
)
def test_more_thuente_failures(phi, stpmax, maxiter, task):
    phi.reset()
    res = more_thuente_search(phi.both, 1.0, phi.phi0, phi.derphi0, 1e-4, 0.9,
                              stpmax=stpmax, maxiter=maxiter)
    assert res.step is None
    assert res.task == task
    assert res.n_trials <= maxiter


def test_more_thuente_rejects_ascent_direction():
    phi = _make_phi("quadratic", 1.0, q=1.0)
    res = more_thuente_search(phi.both, 1.0, phi.phi0, phi.derphi0, 1e-4, 0.9)
    assert res.step is None
    assert res.task == "ERROR: INITIAL G .GE. ZERO"
    assert res.n_trials == 0


def _scipy_wolfe1(phi, old_phi0, c1, c2, **kw):
    return scalar_search_wolfe1(phi.value, phi.deriv, phi.phi0, old_phi0, phi.derphi0,
                                c1=c1, c2=c2, **kw)


@PROPERTY
@given(phi=phis, constants=wolfe_constants(), decrease=st.floats(-2.0, 20.0, **_finite))
def test_more_thuente_matches_scipy_wolfe1(phi, constants, decrease):
    c1, c2 = constants
    old_phi0 = phi.phi0 + decrease
    step_s, phi_s, _ = _scipy_wolfe1(phi, old_phi0, c1, c2, amax=1e100, amin=1e-100)
    trials_s = list(phi.value_steps)
    phi.reset()
    alpha1 = first_trial_step(phi.phi0, old_phi0, phi.derphi0)
    res = more_thuente_search(phi.both, alpha1, phi.phi0, phi.derphi0, c1, c2)
    assert phi.value_steps == trials_s
    assert res.step == step_s
    assert res.phi == phi_s


@pytest.mark.parametrize(("phi", "alpha1", "c1", "c2"), _MT_CASES)
@pytest.mark.parametrize(("amin", "amax"), [(1e-100, 1e100), (1e-8, 50.0), (0.5, 2.0)],
                         ids=["cg-bounds", "scipy-default-bounds", "narrow"])
def test_more_thuente_matches_scipy_wolfe1_cases(phi, alpha1, c1, c2, amin, amax):
    alpha1 = min(max(alpha1, amin), amax)
    phi.reset()
    # old_phi0=None makes scipy start at 1.0; use the same first step.
    step_s, phi_s, _ = scalar_search_wolfe1(phi.value, phi.deriv, phi.phi0, None, phi.derphi0,
                                            c1=c1, c2=c2, amin=amin, amax=amax)
    trials_s = list(phi.value_steps)
    phi.reset()
    res = more_thuente_search(phi.both, 1.0, phi.phi0, phi.derphi0, c1, c2, stpmin=amin,
                              stpmax=amax)
    assert phi.value_steps == trials_s
    assert res.step == step_s
    assert res.phi == phi_s


@pytest.mark.parametrize(
    ("phi0", "old_phi0", "derphi0", "expected"),
    [
        (1.0, None, -1.0, 1.0),
        (1.0, 1.5, 0.0, 1.0),
        (1.0, 1.5, -100.0, 1.01 * 2 * (1.0 - 1.5) / -100.0),
        (1.0, 0.5, -1.0, 1.0),  # f went up: the formula is negative, fall back to 1
        (1.0, 100.0, -1.0, 1.0),  # capped at 1
    ],
    ids=["no-history", "zero-slope", "repeat-decrease", "increase", "cap"],
)
def test_first_trial_step(phi0, old_phi0, derphi0, expected):
    assert first_trial_step(phi0, old_phi0, derphi0) == expected


# -- safeguarded_step (dcstep) ------------------------------------------------------------

_values = st.floats(-1e3, 1e3, **_finite)
_magnitudes = st.floats(1e-3, 1e3, **_finite)
_signs = st.sampled_from([-1.0, 1.0])
_gap = st.floats(1e-3, 100.0, **_finite)


@st.composite
def dcstep_inputs(draw, brackt):
    """Arguments of dcstep as dcsrch calls it: phi'(stx) points downhill towards stp."""
    stx = draw(st.floats(0.0, 100.0, **_finite))
    direction = draw(_signs)
    stp = stx + direction * draw(_gap)
    fx, fp, fy = draw(_values), draw(_values), draw(_values)
    dx = -direction * draw(_magnitudes)
    dp = draw(_signs) * draw(_magnitudes)
    dy = draw(_signs) * draw(_magnitudes)
    if brackt:
        # dcsrch keeps stp strictly inside the bracket [stx, sty].
        sty = stp + (stp - stx) * draw(st.floats(0.1, 10.0, **_finite))
        stpmin, stpmax = min(stx, sty), max(stx, sty)
    else:
        sty, fy, dy = stx, fx, dx
        lo = draw(st.floats(0.0, 200.0, **_finite))
        stpmin, stpmax = lo, lo + draw(st.floats(0.0, 500.0, **_finite))
    return (stx, fx, dx, sty, fy, dy, stp, fp, dp, brackt, stpmin, stpmax)


@PROPERTY
@given(args=dcstep_inputs(brackt=False))
def test_safeguarded_step_stays_in_bounds_when_not_bracketed(args):
    stx, fx, _, _, _, _, stp, fp, _, _, stpmin, stpmax = args
    out = safeguarded_step(*args)
    new_stx, new_fx, _, _, _, _, new_stp, brackt = out
    # The best point is kept: stx is the lower of the old stx and stp.
    assert new_fx == min(fx, fp)
    assert new_stx == (stp if fp <= fx else stx)
    if not brackt:
        assert stpmin <= new_stp <= stpmax


@PROPERTY
@given(args=st.one_of(dcstep_inputs(brackt=False), dcstep_inputs(brackt=True)))
def test_safeguarded_step_matches_scipy_dcstep(args):
    mine = safeguarded_step(*args)
    theirs = dcstep(*args)
    assert len(mine) == len(theirs) == 8
    for a, b in zip(mine, theirs, strict=True):
        assert a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize(
    ("args", "case"),
    [
        # fp > fx: case 1, bracketed.
        ((0.0, 1.0, -1.0, 0.0, 1.0, -1.0, 2.0, 3.0, 1.0, False, 2.2, 8.0), 1),
        # lower f, derivatives of opposite sign: case 2, bracketed.
        ((0.0, 1.0, -1.0, 0.0, 1.0, -1.0, 2.0, 0.5, 0.5, False, 2.2, 8.0), 2),
        # lower f, same sign, |dp| < |dx|: case 3, step clamped into [stpmin, stpmax].
        ((0.0, 1.0, -1.0, 0.0, 1.0, -1.0, 2.0, 0.5, -0.5, False, 2.2, 8.0), 3),
        # lower f, same sign, |dp| >= |dx|, not bracketed: case 4, step to stpmax.
        ((0.0, 1.0, -1.0, 0.0, 1.0, -1.0, 2.0, 0.5, -2.0, False, 2.2, 8.0), 4),
    ],
    ids=["case1", "case2", "case3", "case4"],
)
def test_safeguarded_step_cases(args, case):
    stx, fx, dx, _, _, _, stp, fp, dp, _, stpmin, stpmax = args
    new = safeguarded_step(*args)
    assert new == dcstep(*args)
    brackt = new[7]
    assert brackt == (case in (1, 2))
    if case == 4:
        assert new[6] == stpmax
    if case == 3:
        assert stpmin <= new[6] <= stpmax
    if case == 1:
        assert (new[3], new[4], new[5]) == (stp, fp, dp)  # sty <- stp
        assert (new[0], new[1], new[2]) == (stx, fx, dx)
    if case == 2:
        assert (new[0], new[1], new[2]) == (stp, fp, dp)  # stx <- stp, sty <- old stx
        assert (new[3], new[4], new[5]) == (stx, fx, dx)


# -- zoom ----------------------------------------------------------------------------------

class RejectFirst:
    """An extra condition that rejects the first ``n`` candidates it is shown."""

    def __init__(self, n):
        self.n = n
        self.seen: list[tuple[float, float]] = []
        self.verdicts: list[bool] = []

    def __call__(self, alpha, phi_alpha):
        self.seen.append((alpha, phi_alpha))
        ok = len(self.seen) > self.n
        self.verdicts.append(ok)
        return ok


@PROPERTY
@given(phi=phis, constants=wolfe_constants(), alpha1=first_steps,
       rejections=st.integers(0, 2), amax=st.sampled_from([None, 1e100, 3.0]))
def test_zoom_step_satisfies_strong_wolfe_and_accept(phi, constants, alpha1, rejections,
                                                     amax):
    c1, c2 = constants
    accept = RejectFirst(rejections)
    if amax is not None:
        alpha1 = min(alpha1, amax)
    res = zoom_search(phi.value, phi.deriv, phi.phi0, alpha1, phi.derphi0, c1, c2,
                      amax=amax, accept=accept)
    event("zoom: " + ("no step" if res.step is None else
                      "bracketing exhausted" if res.derphi is None else
                      f"step after {len(accept.seen)} candidate(s)"))
    if res.step is None:
        return
    assert res.phi == phi._value(res.step)
    if res.derphi is None:
        # Bracketing ran out of iterations: the last (doubled) step, unchecked.
        assert amax is None or res.step <= amax
        return
    assert res.derphi == phi._deriv(res.step)
    assert _strong_wolfe(res.phi, res.derphi, res.step, phi.phi0, phi.derphi0, c1, c2)
    # The accepted step was shown to the extra condition last, and it said yes.
    assert accept.seen[-1] == (res.step, res.phi)
    assert accept.verdicts[-1]
    assert not any(accept.verdicts[:-1])
    # A step the condition rejected is never returned.
    assert all(a != res.step for a, _ in accept.seen[:-1]) or len(accept.seen) == 1


def test_zoom_bracketing_exhausted_returns_last_step_without_derivative():
    phi = _make_phi("linear", -1.0)  # unbounded below: the step doubles until maxiter
    res = zoom_search(phi.value, phi.deriv, phi.phi0, 0.5, phi.derphi0, 1e-4, 0.4,
                      maxiter=10)
    assert res.step == 0.5 * 2**10
    assert res.derphi is None
    assert res.phi == phi._value(res.step)
    with pytest.warns(LineSearchWarning, match="did not converge"):
        s = scalar_search_wolfe2(phi._value, phi._deriv, phi.phi0, None, phi.derphi0,
                                 c1=1e-4, c2=0.4, maxiter=10)
    assert s[0] == 1.0 * 2**10  # scipy starts from 1.0 without old_phi0


def test_zoom_gives_up_when_no_step_fits_below_amax():
    phi = _make_phi("linear", -1.0)
    res = zoom_search(phi.value, phi.deriv, phi.phi0, 1.0, phi.derphi0, 1e-4, 0.4, amax=4.0)
    assert res.step is None


def test_zoom_ascent_direction_finds_nothing():
    phi = _make_phi("quadratic", 8.0, c0=1.0, q=8.0)
    res = zoom_search(phi.value, phi.deriv, phi.phi0, 1.0, phi.derphi0, 1e-4, 0.4)
    assert res.step is None


def _scipy_wolfe2(phi, old_phi0, c1, c2, amax, accept):
    return scalar_search_wolfe2(phi.value, phi.deriv, phi.phi0, old_phi0, phi.derphi0,
                                c1=c1, c2=c2, amax=amax, extra_condition=accept)


def _compare_zoom_with_scipy(phi, c1, c2, old_phi0, rejections, amax):
    phi.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's LineSearchWarning where it gives up
        step_s, phi_s, _, der_s = _scipy_wolfe2(phi, old_phi0, c1, c2, amax,
                                                RejectFirst(rejections))
    values_s, derivs_s = list(phi.value_steps), list(phi.deriv_steps)
    phi.reset()
    alpha1 = first_trial_step(phi.phi0, old_phi0, phi.derphi0)
    if amax is not None:
        alpha1 = min(alpha1, amax)
    res = zoom_search(phi.value, phi.deriv, phi.phi0, alpha1, phi.derphi0, c1, c2,
                      amax=amax, accept=RejectFirst(rejections))
    # The same path, bit for bit: the same trial steps, the same result. (mpicg promises
    # scipy's iterates; a 1-ulp difference here changes the CG run that follows.)
    np.testing.assert_array_equal(phi.value_steps, values_s)
    np.testing.assert_array_equal(phi.deriv_steps, derivs_s)
    if step_s is None:
        assert res.step is None
        return
    assert res.step == step_s
    assert res.phi == phi_s
    assert (res.derphi is None) == (der_s is None)
    if der_s is not None:
        assert res.derphi == der_s


@PROPERTY
@given(phi=phis, constants=wolfe_constants(), decrease=st.floats(-2.0, 20.0, **_finite),
       rejections=st.integers(0, 2), amax=st.sampled_from([None, 1e100]))
def test_zoom_matches_scipy_wolfe2(phi, constants, decrease, rejections, amax):
    c1, c2 = constants
    _compare_zoom_with_scipy(phi, c1, c2, phi.phi0 + decrease, rejections, amax)


@pytest.mark.parametrize(("phi", "alpha1", "c1", "c2"), _MT_CASES)
@pytest.mark.parametrize("rejections", [0, 1, 3])
def test_zoom_matches_scipy_wolfe2_cases(phi, alpha1, c1, c2, rejections):
    _compare_zoom_with_scipy(phi, c1, c2, None, rejections, 1e100)


def test_zoom_matches_scipy_wolfe2_on_a_quadratic():
    # On a quadratic the cubic through three points has a cubic coefficient of almost 0,
    # so the cubic step is ill-conditioned: a 1-ulp difference in cubic_minimizer's
    # arithmetic moves the next trial step by ~4e-7 relative (scipy: 0.09850771830507916,
    # mpicg: 0.09850775296513654).
    phi = _make_phi("quadratic", -0.01, c0=2.0, q=0.1015625)
    _compare_zoom_with_scipy(phi, 0.25, 0.99, phi.phi0 + 1.0, 1, None)


def _interpolation_samples(n=3000, seed=20240601):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a, b, c = rng.uniform(0.0, 2.0, 3)
        fa, fb, fc = rng.standard_normal(3)
        fpa = -abs(rng.standard_normal())
        out.append((float(a), float(fa), float(fpa), float(b), float(fb), float(c),
                    float(fc)))
    return out


def _same(x, y):
    return (x is None and y is None) or (x is not None and y is not None and x == y)


def test_cubic_minimizer_matches_scipy_bitwise():
    # zoom_search interpolates with cubic_minimizer; scipy with _cubicmin. mpicg promises
    # scipy's iterates, so the two must agree to the bit: a 1-ulp difference in one zoom
    # trial changes later iterates and even the counts (see the parity test
    # rosen2-c1-0.2-c2-0.9).
    samples = _interpolation_samples()
    bad = [s for s in samples if not _same(cubic_minimizer(*s), _cubicmin(*s))]
    assert not bad, (f"{len(bad)} of {len(samples)} differ; e.g. cubic_minimizer{bad[0]} = "
                     f"{cubic_minimizer(*bad[0])!r}, scipy _cubicmin = {_cubicmin(*bad[0])!r}")


def test_cubic_minimizer_is_close_to_scipy():
    for s in _interpolation_samples(500):
        mine, theirs = cubic_minimizer(*s), _cubicmin(*s)
        assert (mine is None) == (theirs is None)
        if mine is not None:
            assert mine == pytest.approx(theirs, rel=1e-12, abs=1e-15)


def test_quadratic_minimizer_matches_scipy_bitwise():
    for a, fa, fpa, b, fb, _, _ in _interpolation_samples():
        assert _same(quadratic_minimizer(a, fa, fpa, b, fb), _quadmin(a, fa, fpa, b, fb))


@pytest.mark.parametrize(
    "args",
    [(0.0, 1.0, -1.0, 0.0, 2.0), (1.0, 1.0, -1.0, 2.0, 0.0 + 0.0)],
    ids=["degenerate-interval", "zero-curvature"],
)
def test_quadratic_minimizer_none_when_undefined(args):
    assert quadratic_minimizer(*args) is None
    assert _quadmin(*args) is None


def test_cubic_minimizer_none_when_points_coincide():
    assert cubic_minimizer(0.0, 1.0, -1.0, 1.0, 0.5, 1.0, 0.7) is None
    assert _cubicmin(0.0, 1.0, -1.0, 1.0, 0.5, 1.0, 0.7) is None


# -- strong_wolfe_search on multi-D objectives ------------------------------------------

@dataclass
class Quartic:
    """0.5 x^T A x + b^T x + r sum(x^4), A symmetric (maybe indefinite when r > 0)."""

    a: np.ndarray
    b: np.ndarray
    r: float

    def f(self, x):
        return float(0.5 * x @ self.a @ x + self.b @ x + self.r * np.sum(x**4))

    def grad(self, x):
        return self.a @ x + self.b + 4 * self.r * x**3


@st.composite
def quartics(draw, n_max=6):
    n = draw(st.integers(2, n_max))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((n, n))
    r = draw(st.sampled_from([0.0, 0.01, 0.5]))
    shift = draw(st.floats(0.01, 2.0, **_finite)) if r == 0.0 else -1.0
    a = m @ m.T / n + shift * np.eye(n)
    return Quartic(a, rng.standard_normal(n), r), rng


def _objective(problem, fd=False, counter=None):
    evaluator = SerialEvaluator(PointWork(problem.f))
    if counter is not None:
        evaluator = counter(evaluator)
    rule = FiniteDifference("forward", abs_step=1.49e-8) if fd else problem.grad
    return BatchedObjective(evaluator, problem.b.size, rule)


def _descent_condition(gfk, pk, gtol, norm=np.inf):
    """CG's extra condition (what cg_iteration passes as ``accept``)."""
    deltak = gfk @ gfk

    def accept(alpha, x_new, f_new, g_new):
        beta = max(0, (g_new - gfk) @ g_new / deltak)
        p_new = -g_new + beta * pk
        if vecnorm(g_new, ord=norm) <= gtol:
            return True
        return p_new @ g_new <= -SIGMA_3 * (g_new @ g_new)

    return accept


def _accept_factory(mode, gfk, pk):
    """Fresh extra conditions: none, CG's descent check, or that check after refusing the
    first ``k`` candidates (which pushes strong_wolfe_search onto its zoom fallback)."""
    if mode == "none":
        return lambda: None
    refuse = {"descent": 0, "refuse-1": 1, "refuse-2": 2}[mode]

    def make():
        descent = _descent_condition(gfk, pk, 1e-5)
        shown = []

        def accept(alpha, x_new, f_new, g_new):
            shown.append(alpha)
            return len(shown) > refuse and descent(alpha, x_new, f_new, g_new)

        return accept

    return make


@PROPERTY
@given(problem_rng=quartics(), constants=wolfe_constants(),
       mode=st.sampled_from(["none", "descent", "refuse-1", "refuse-2"]),
       history=st.sampled_from([None, 0.1, 1.0, 10.0]))
def test_strong_wolfe_search_is_more_thuente_or_zoom(problem_rng, constants, mode, history):
    problem, rng = problem_rng
    c1, c2 = constants
    n = problem.b.size
    xk = rng.standard_normal(n) * 2
    gfk = problem.grad(xk)
    pk = -gfk + 0.3 * np.linalg.norm(gfk) / np.sqrt(n) * rng.standard_normal(n)
    if pk @ gfk >= 0:
        pk = -gfk
    fk = problem.f(xk)
    old_old = None if history is None else fk + history
    make_accept = _accept_factory(mode, gfk, pk)

    try:
        ls = strong_wolfe_search(_objective(problem), xk, pk, gfk, fk, old_old, c1=c1, c2=c2,
                                 accept=make_accept())
    except LineSearchError:
        ls = None

    # What the two searches do on their own, shown the same sequence of candidates.
    accept = make_accept()
    alpha1 = first_trial_step(fk, old_old, gfk @ pk)

    def phi_and_derivative(a):
        x = xk + a * pk
        return problem.f(x), problem.grad(x) @ pk

    mt = more_thuente_search(phi_and_derivative, alpha1, fk, gfk @ pk, c1, c2)
    mt_ok = mt.step is not None and (
        accept is None or accept(mt.step, xk + mt.step * pk, mt.phi,
                                 problem.grad(xk + mt.step * pk)))
    event("more-thuente step" if mt_ok else "zoom fallback")
    if mt_ok:
        assert ls is not None
        assert ls.step == mt.step
    else:
        def zoom_accept(a, phi_a):
            x = xk + a * pk
            return accept is None or accept(a, x, phi_a, problem.grad(x))

        zr = zoom_search(lambda a: problem.f(xk + a * pk),
                         lambda a: problem.grad(xk + a * pk) @ pk,
                         fk, alpha1, gfk @ pk, c1, c2, amax=1e100, accept=zoom_accept)
        if zr.step is None:
            event("both searches failed")
            assert ls is None
            return
        assert ls is not None
        assert ls.step == zr.step
    # Whichever search found it, the step is what it claims to be.
    x_new = xk + ls.step * pk
    assert ls.f_new == problem.f(x_new)
    if ls.g_new is not None:
        np.testing.assert_array_equal(ls.g_new, problem.grad(x_new))
        assert _strong_wolfe(ls.f_new, ls.g_new @ pk, ls.step, fk, gfk @ pk, c1, c2)
        if mode != "none":
            assert _descent_condition(gfk, pk, 1e-5)(ls.step, x_new, ls.f_new, ls.g_new)


@pytest.mark.parametrize("fd", [False, True], ids=["analytic", "forward-differences"])
def test_strong_wolfe_search_raises_on_ascent_direction(fd):
    problem = Quartic(np.eye(3), np.zeros(3), 0.0)
    xk = np.array([1.0, -2.0, 0.5])
    gfk = problem.grad(xk)
    with pytest.raises(LineSearchError):
        strong_wolfe_search(_objective(problem, fd=fd), xk, gfk, gfk, problem.f(xk), None)


# -- the CG iteration ---------------------------------------------------------------------

_CG_PROBLEMS = [p for p in PROBLEMS if any(p.ends_as(k) for k in (0, 1, 2)) and not p.args
                and p.x0.size <= 10]


def _run_recording(objective, x0, gtol=1e-5, norm=np.inf, maxiter=None, c1=1e-4, c2=0.4):
    states = []

    def hook(state):
        states.append(state)
        return False

    start = initial_state(objective, x0, norm)
    outcome = run_cg(objective, start, gtol=gtol, norm=norm,
                     maxiter=maxiter or 200 * x0.size, c1=c1, c2=c2, on_iteration=hook,
                     return_all=True)
    return start, states, outcome


def _cg_objective(problem):
    evaluator = SerialEvaluator(PointWork(problem.f))
    eps = problem.kwargs.get("epsilon", 1.4901161193847656e-08)
    rule = problem.grad or FiniteDifference("forward", abs_step=eps)
    return BatchedObjective(evaluator, problem.x0.size, rule)


def _assert_cg_invariants(start, states, outcome, gtol, norm, c1):
    assert [s.k for s in states] == list(range(1, len(states) + 1))
    previous = start
    for state in states:
        g = state.g
        # Sufficient descent of every direction CG goes on with (or converged).
        assert state.gnorm <= gtol or state.p @ g <= -SIGMA_3 * (g @ g), state.k
        assert state.gnorm == vecnorm(g, ord=norm)
        assert state.f_previous == previous.f
        # The step went along the previous direction and decreased f (Armijo).
        step = state.x - previous.x
        i = int(np.argmax(np.abs(previous.p)))
        alpha = step[i] / previous.p[i]
        assert alpha > 0
        rounding = 8 * np.finfo(float).eps * np.maximum(np.abs(state.x), np.abs(previous.x))
        assert np.all(np.abs(step - alpha * previous.p) <= 1e-8 * np.abs(step) + rounding)
        slope = previous.g @ previous.p
        assert slope < 0
        assert state.f <= previous.f + c1 * alpha * slope * (1 - 1e-9) + 1e-12 * abs(
            previous.f)
        previous = state
    assert outcome.state is (states[-1] if states else start)
    assert len(outcome.allvecs) == len(states) + 1


@pytest.mark.parametrize("problem", _CG_PROBLEMS, ids=[p.name for p in _CG_PROBLEMS])
def test_run_cg_directions_satisfy_sufficient_descent(problem):
    opts = {k: v for k, v in problem.kwargs.items() if k != "epsilon"}
    gtol = opts.get("gtol", 1e-5)
    norm = opts.get("norm", np.inf)
    start, states, outcome = _run_recording(_cg_objective(problem), problem.x0.astype(float),
                                            **opts)
    assert problem.ends_as(outcome.warnflag)
    assert states
    _assert_cg_invariants(start, states, outcome, gtol, norm, opts.get("c1", 1e-4))


@PROPERTY
@given(problem_rng=quartics(), constants=wolfe_constants(), fd=st.booleans())
def test_run_cg_on_random_quartics_keeps_sufficient_descent(problem_rng, constants, fd):
    problem, rng = problem_rng
    c1, c2 = constants
    x0 = rng.standard_normal(problem.b.size) * 3
    start, states, outcome = _run_recording(_objective(problem, fd=fd), x0, c1=c1, c2=c2,
                                            maxiter=60)
    _assert_cg_invariants(start, states, outcome, 1e-5, np.inf, c1)
    if outcome.warnflag == 0:
        assert outcome.state.gnorm <= 1e-5


def test_cg_iteration_steps_match_run_cg_and_resume_to_the_same_bits():
    problem = next(p for p in PROBLEMS if p.name == "rosen5")
    _, states, _ = _run_recording(_cg_objective(problem), problem.x0, maxiter=30)
    # Drive cg_iteration by hand from a fresh objective: the same states, bit for bit.
    objective = _cg_objective(problem)
    state = initial_state(objective, problem.x0, np.inf)
    for expected in states[:10]:
        state = cg_iteration(objective, state, gtol=1e-5, norm=np.inf, c1=1e-4, c2=0.4)
        np.testing.assert_array_equal(state.x, expected.x)
        np.testing.assert_array_equal(state.p, expected.p)
        assert state.f == expected.f
    # Resume from the checkpointed state with yet another objective.
    resumed = run_cg(_cg_objective(problem), state, gtol=1e-5, norm=np.inf, maxiter=30,
                     c1=1e-4, c2=0.4, return_all=True)
    for got, expected in zip(resumed.allvecs[1:], states[10:], strict=True):
        np.testing.assert_array_equal(got, expected.x)


def test_cg_iteration_ascent_direction_raises_and_run_cg_reports_warnflag_2():
    problem = Quartic(np.eye(3), np.zeros(3), 0.0)
    objective = _objective(problem)
    start = initial_state(objective, np.array([1.0, -2.0, 0.5]), np.inf)
    uphill = type(start)(x=start.x, f=start.f, f_previous=start.f_previous, g=start.g,
                         p=start.g, gnorm=start.gnorm, k=0)
    with pytest.raises(LineSearchError):
        cg_iteration(objective, uphill, gtol=1e-5, norm=np.inf, c1=1e-4, c2=0.4)
    outcome = run_cg(objective, uphill, gtol=1e-5, norm=np.inf, maxiter=10, c1=1e-4, c2=0.4)
    assert outcome.warnflag == 2
    assert outcome.message == "Desired error not necessarily achieved due to precision loss."
    assert outcome.state is uphill


def test_run_cg_hook_can_halt():
    problem = next(p for p in PROBLEMS if p.name == "rosen2")
    objective = _cg_objective(problem)
    start = initial_state(objective, problem.x0, np.inf)
    outcome = run_cg(objective, start, gtol=1e-5, norm=np.inf, maxiter=400, c1=1e-4, c2=0.4,
                     on_iteration=lambda s: s.k == 3)
    assert outcome.halted
    assert outcome.state.k == 3
    assert outcome.warnflag == 0



# Steps whose cubic term, squared as a product, rounds one bit away from scipy's ``** 2``
# (C's pow) and moves the trial step: in a fit this split the iterates from scipy's in
# about 1 run of 600 (found by a review: a 13-D log-sum-exp ended with warnflag 2, not 0).
# Three bracketed, three not; found by a search over drawn steps.
_POW_SENSITIVE_STEPS = [
    (4.445264252033338, 6.420006818446268, 70.23452361521309, -6.256220246800005,
     5.532402668865888, -0.05485355274923352, -2.4425740424908, -5.883980478909681,
     -0.038900776679679526, True, -6.256220246800005, 4.445264252033338),
    (5.1247440570156035, 0.012636900269200169, 79.42402198136647, -65.59906232567157,
     6.486911615764271, 3.2614914293399293, -1.9230702481376207, -1.4525307784953174,
     -12.452252226850806, True, -65.59906232567157, 5.1247440570156035),
    (6.223879806556214, 2.2635103734077315, 2.860298891681858, 3.0682983256242533,
     -6.045937612391916, -17.557060039932807, 3.5778245853096884, 9.53172428542608,
     -72.08982746072856, True, 3.0682983256242533, 6.223879806556214),
    (8.104116415008386, -0.0035497892105613715, 49.20469202764557, 8.104116415008386,
     -0.0035497892105613715, 49.20469202764557, 0.22170278676299482, -7.730296025992041,
     -0.10578350011811229, False, 0.22170278676299482, 39.63377092798995),
    (5.669720729540511, 2.944120420746101, 0.053894550185623454, 5.669720729540511,
     2.944120420746101, 0.053894550185623454, -3.5089604673146475, 7.810167173191637,
     -13.594334319870363, False, -3.5089604673146475, 42.38444551696115),
    (2.7039074356396577, 3.1808005638939196, 11.843344646635789, 2.7039074356396577,
     3.1808005638939196, 11.843344646635789, 0.14880227684394587, -3.6212054373222173,
     -0.11034622270290843, False, 0.14880227684394587, 12.924328070822504),
]


@pytest.mark.parametrize("args", _POW_SENSITIVE_STEPS)
def test_safeguarded_step_squares_as_scipy_does(args):
    assert safeguarded_step(*args) == dcstep(*args)
