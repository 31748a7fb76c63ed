"""mpicg against scipy: the same iterates, counts and warnflags on every library problem.

For each problem both ``fmin_cg`` (``full_output=1, retall=1``) and
``minimize(method='CG', options={'return_all': True})`` are run through scipy and mpicg.
Counts (iterations, function and gradient evaluations, warnflag/status, number of iterates)
must be equal; points and values equal to ``rtol=1e-9``. The warnflag scipy returns is also
checked against the problem's pinned ``status``, so the statuses the suite covers are known.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.optimize
from problems import EXP_WELL_PROBLEMS, MINIMIZE_CASES, PROBLEMS

import mpicg

RTOL = 1e-9

ALL_PROBLEMS = PROBLEMS + EXP_WELL_PROBLEMS
BY_NAME = {p.name: p for p in ALL_PROBLEMS}
ROSEN2 = BY_NAME["rosen2"]


def _ids(items):
    return [item.name for item in items]


def _quiet(fn, *args, **kwargs):
    # scipy's line searches warn (LineSearchWarning) and numpy warns on NaN/overflow in
    # the NaN problems; parity is about results, so silence both sides alike.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _assert_points_close(actual, desired, what):
    np.testing.assert_allclose(actual, desired, rtol=RTOL, atol=0, err_msg=what)


@pytest.mark.parametrize("problem", ALL_PROBLEMS, ids=_ids(ALL_PROBLEMS))
def test_fmin_cg_matches_scipy(problem):
    kwargs = problem.fmin_cg_kwargs()
    xs, fs, nfev_s, njev_s, flag_s, allvecs_s = _quiet(
        scipy.optimize.fmin_cg, problem.f, problem.x0, full_output=1, retall=1, disp=0,
        **kwargs)
    xm, fm, nfev_m, njev_m, flag_m, allvecs_m = _quiet(
        mpicg.fmin_cg, problem.f, problem.x0, full_output=1, retall=1, disp=0, **kwargs)

    assert problem.ends_as(flag_s), "scipy no longer ends this problem as pinned"
    assert flag_m == flag_s
    nit_s, nit_m = len(allvecs_s) - 1, len(allvecs_m) - 1
    assert nit_m == nit_s
    assert nfev_m == nfev_s
    assert njev_m == njev_s
    _assert_points_close(xm, xs, "xopt")
    np.testing.assert_allclose(fm, fs, rtol=RTOL, atol=0)
    for k, (vm, vs) in enumerate(zip(allvecs_m, allvecs_s, strict=True)):
        _assert_points_close(vm, vs, f"allvecs[{k}]")


@pytest.mark.parametrize("problem", ALL_PROBLEMS, ids=_ids(ALL_PROBLEMS))
def test_minimize_matches_scipy(problem):
    kwargs = problem.minimize_kwargs()
    kwargs["options"]["return_all"] = True
    rs = _quiet(scipy.optimize.minimize, problem.f, problem.x0, method="CG", **kwargs)
    rm = _quiet(mpicg.minimize, problem.f, problem.x0, **kwargs)
    _assert_same_result(rm, rs, problem)


@pytest.mark.parametrize("case", MINIMIZE_CASES, ids=_ids(MINIMIZE_CASES))
def test_minimize_jac_forms_match_scipy(case):
    kwargs = case.kwargs()
    kwargs["options"]["return_all"] = True
    rs = _quiet(scipy.optimize.minimize, case.fun, case.x0, method="CG", **kwargs)
    rm = _quiet(mpicg.minimize, case.fun, case.x0, **kwargs)
    _assert_same_result(rm, rs, case)


def _assert_same_result(rm, rs, pinned):
    assert isinstance(rm, mpicg.OptimizeResult)
    assert pinned.ends_as(rs.status), "scipy no longer ends this problem as pinned"
    assert rm.status == rs.status
    assert rm.success == rs.success
    assert rm.message == rs.message
    assert rm.nit == rs.nit
    assert rm.nfev == rs.nfev
    assert rm.njev == rs.njev
    assert len(rm.allvecs) == len(rs.allvecs)
    _assert_points_close(rm.x, rs.x, "x")
    _assert_points_close(rm.jac, rs.jac, "jac")
    np.testing.assert_allclose(rm.fun, rs.fun, rtol=RTOL, atol=0)
    for k, (vm, vs) in enumerate(zip(rm.allvecs, rs.allvecs, strict=True)):
        _assert_points_close(vm, vs, f"allvecs[{k}]")


def test_library_covers_every_warnflag():
    # Every warnflag by problems whose status does not hang on the CPU.
    statuses = {p.status for p in [*ALL_PROBLEMS, *MINIMIZE_CASES]
                if not isinstance(p.status, frozenset)}
    assert statuses == {0, 1, 2, 3}
    assert len(PROBLEMS) >= 14
    assert len({p.x0[0] for p in EXP_WELL_PROBLEMS}) >= 50


# -- return forms -----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("full_output", "retall", "length"),
    [(0, 0, None), (1, 0, 5), (0, 1, 2), (1, 1, 6)],
    ids=["x-only", "full-output", "retall", "full-output-retall"],
)
def test_fmin_cg_return_forms_match_scipy(full_output, retall, length):
    problem = ROSEN2
    kw = {"full_output": full_output, "retall": retall, "disp": 0,
          **problem.fmin_cg_kwargs()}
    out_s = scipy.optimize.fmin_cg(problem.f, problem.x0, **kw)
    out_m = mpicg.fmin_cg(problem.f, problem.x0, **kw)
    if length is None:
        assert isinstance(out_m, np.ndarray)
        _assert_points_close(out_m, out_s, "xopt")
        return
    assert isinstance(out_m, tuple)
    assert len(out_m) == len(out_s) == length
    _assert_points_close(out_m[0], out_s[0], "xopt")
    if full_output:
        assert out_m[2:5] == out_s[2:5]
    if retall:
        assert len(out_m[-1]) == len(out_s[-1])


def test_x0_is_not_modified_and_not_aliased():
    x0 = np.array([-1.2, 1.0])
    keep = x0.copy()
    xopt, allvecs = mpicg.fmin_cg(ROSEN2.f, x0, fprime=ROSEN2.grad, disp=0, retall=1)
    np.testing.assert_array_equal(x0, keep)
    assert allvecs[0] is not x0
    assert xopt is not x0


def test_objective_that_modifies_its_argument_changes_nothing():
    # Both scipy and mpicg hand the objective a copy of x.
    def vandal(x):
        value = float(np.sum((x - 1.0) ** 2) + x[0] * x[1])
        x[:] = 1e300
        return value

    x0 = np.array([3.0, -2.0, 0.5])
    xs, _, nfev_s, njev_s, flag_s = scipy.optimize.fmin_cg(vandal, x0, full_output=1,
                                                            disp=0)
    xm, _, nfev_m, njev_m, flag_m = mpicg.fmin_cg(vandal, x0, full_output=1, disp=0)
    assert (nfev_m, njev_m, flag_m) == (nfev_s, njev_s, flag_s)
    _assert_points_close(xm, xs, "xopt")


@pytest.mark.parametrize("stop_after", [1, 3], ids=["stop-after-1", "stop-after-3"])
def test_fmin_cg_callback_stop_iteration_matches_scipy(stop_after):
    def make_callback():
        calls = []

        def callback(xk):
            calls.append(xk)
            if len(calls) == stop_after:
                raise StopIteration

        return callback

    problem = ROSEN2
    kw = {"full_output": 1, "retall": 1, "disp": 0, **problem.fmin_cg_kwargs()}
    out_s = scipy.optimize.fmin_cg(problem.f, problem.x0, callback=make_callback(), **kw)
    out_m = mpicg.fmin_cg(problem.f, problem.x0, callback=make_callback(), **kw)
    assert out_m[2:5] == out_s[2:5]
    assert len(out_m[5]) == len(out_s[5]) == stop_after + 1
    _assert_points_close(out_m[0], out_s[0], "xopt")


_STOPPABLE = [BY_NAME[n] for n in ("rosen2", "rosen5-fd-epsilon-array", "quad-rot-cond1e3",
                                    "log-sum-exp")]


@pytest.mark.parametrize("problem", _STOPPABLE, ids=_ids(_STOPPABLE))
def test_minimize_callback_stop_iteration_matches_scipy(problem):
    def callback(intermediate_result):
        if intermediate_result.fun < 0.5 * f0:
            raise StopIteration

    f0 = problem.f(problem.x0)
    kwargs = problem.minimize_kwargs()
    rs = scipy.optimize.minimize(problem.f, problem.x0, method="CG", callback=callback,
                                 **kwargs)
    rm = mpicg.minimize(problem.f, problem.x0, callback=callback, **kwargs)
    assert rs.status == 99
    assert (rm.status, rm.success, rm.message) == (rs.status, rs.success, rs.message)
    assert (rm.nit, rm.nfev, rm.njev) == (rs.nit, rs.nfev, rs.njev)
    _assert_points_close(rm.x, rs.x, "x")
