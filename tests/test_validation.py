"""Bad input is refused with an error naming the argument and showing the value; callbacks,
options and ``tol`` behave as in scipy."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.optimize
from problems import rosen, rosen_der

import mpicg
from mpicg.optimize import check_maxiter


def sphere(x):
    return float(np.sum((x - 1.0) ** 2))


def sphere_grad(x):
    return 2.0 * (x - 1.0)


X0 = np.array([3.0, -2.0])


def _fmin(**kw):
    kw.setdefault("disp", 0)
    f = kw.pop("f", sphere)
    x0 = kw.pop("x0", X0)
    return lambda: mpicg.fmin_cg(f, x0, **kw)


def _minimize(**kw):
    fun = kw.pop("fun", sphere)
    x0 = kw.pop("x0", X0)
    return lambda: mpicg.minimize(fun, x0, **kw)


# (id, call, exception type, fragments the message must contain: the argument's name and
# the offending value as shown to the user)
BAD_INPUTS = [
    ("x0-2d", _fmin(x0=np.zeros((2, 2))), ValueError, ["`x0`", "(2, 2)"]),
    ("x0-empty", _fmin(x0=[]), ValueError, ["`x0`", "[]"]),
    ("x0-nan", _fmin(x0=[1.0, np.nan]), ValueError, ["`x0`", "nan"]),
    ("x0-inf", _minimize(x0=[np.inf, 1.0]), ValueError, ["`x0`", "inf"]),
    ("x0-strings", _fmin(x0=["a", "b"]), TypeError, ["`x0`", "'a'"]),
    ("x0-none", _minimize(x0=None), TypeError, ["`x0`", "None"]),
    ("x0-complex", _minimize(x0=[1 + 2j]), TypeError, ["`x0`", "(1+2j)"]),
    ("x0-ragged", _fmin(x0=[[1.0, 2.0], [3.0]]), ValueError, ["`x0`", "[[1.0, 2.0], [3.0]]"]),
    ("c1-gt-c2", _fmin(c1=0.5, c2=0.4), ValueError, ["c1", "c2", "0.5", "0.4"]),
    ("c1-zero", _fmin(c1=0.0), ValueError, ["c1", "0.0"]),
    ("c1-negative", _minimize(options={"c1": -0.1}), ValueError, ["c1", "-0.1"]),
    ("c2-one", _minimize(options={"c2": 1.0}), ValueError, ["c2", "1.0"]),
    ("c2-above-one", _fmin(c2=1.5), ValueError, ["c2", "1.5"]),
    ("c1-nan", _minimize(options={"c1": float("nan")}), ValueError, ["c1", "nan"]),
    ("c1-equals-c2", _fmin(c1=0.3, c2=0.3), ValueError, ["c1", "c2", "0.3"]),
    ("gtol-negative", _fmin(gtol=-1e-5), ValueError, ["`gtol`", "-1e-05"]),
    ("gtol-negative-minimize", _minimize(options={"gtol": -2.0}), ValueError,
     ["`gtol`", "-2.0"]),
    ("tol-negative", _minimize(tol=-1.0), ValueError, ["gtol", "-1.0"]),
    ("gtol-nan", _fmin(gtol=float("nan")), ValueError, ["`gtol`", "nan"]),
    # maxiter 0, -3 and 2.5 run as in scipy (tests/test_scipy_dropin.py); these do not
    ("maxiter-nan", _fmin(maxiter=float("nan")), ValueError, ["`maxiter`", "nan"]),
    ("maxiter-string", _minimize(options={"maxiter": "10"}), ValueError,
     ["`maxiter`", "'10'"]),
    ("f-not-callable", _fmin(f=3), TypeError, ["`f`", "3"]),
    ("fun-not-callable", _minimize(fun="abc"), TypeError, ["`fun`", "'abc'"]),
    ("f-returns-vector", _fmin(f=lambda x: x), ValueError, ["`f`", "(2,)"]),
    ("fun-returns-vector", _minimize(fun=lambda x: np.ones(3)), ValueError,
     ["`fun`", "(3,)"]),
    ("fun-returns-string", _minimize(fun=lambda x: "abc"), TypeError, ["`fun`", "'abc'"]),
    ("fun-returns-dict", _minimize(fun=lambda x: {"f": 1.0}), TypeError, ["`fun`", "{'f': 1.0}"]),
    ("fun-returns-none", _minimize(fun=lambda x: None), TypeError, ["`fun`", "None"]),
    ("jac-returns-none-1d", _minimize(x0=[1.0], jac=lambda x: None), (TypeError, ValueError),
     ["`jac`", "None"]),
    ("jac-returns-none-2d", _minimize(jac=lambda x: None), (TypeError, ValueError),
     ["`jac`", "None"]),
    ("fprime-wrong-shape", _fmin(fprime=lambda x: np.zeros(3)), ValueError,
     ["`fprime`", "(3,)"]),
    ("jac-wrong-shape", _minimize(jac=lambda x: np.zeros((2, 2))), ValueError,
     ["`jac`", "(2, 2)"]),
    ("jac-scalar-for-2d", _minimize(jac=lambda x: 1.0), ValueError, ["`jac`", "(1,)"]),
    ("jac-unknown-string", _minimize(jac="5-point"), ValueError, ["`jac`", "'5-point'"]),
    ("jac-number", _minimize(jac=3), ValueError, ["`jac`", "3"]),
    ("method-bfgs", _minimize(method="BFGS"), ValueError, ["`method`", "'BFGS'"]),
    ("method-none", _minimize(method=None), ValueError, ["`method`", "None"]),
    ("callback-not-callable", _minimize(callback=5), TypeError, ["`callback`", "5"]),
    ("epsilon-wrong-length", _fmin(epsilon=np.ones(3)), ValueError, ["`epsilon`", "1., 1., 1."]),
    ("eps-not-finite", _minimize(options={"eps": np.inf}), ValueError, ["`eps`", "inf"]),
    ("rel-step-wrong-length",
     _minimize(jac="2-point", options={"finite_diff_rel_step": [1e-3, 1e-3, 1e-3]}),
     ValueError, ["`finite_diff_rel_step`", "[0.001, 0.001, 0.001]"]),
    ("norm-string", _minimize(options={"norm": "fro"}), ValueError, ["`norm`", "'fro'"]),
    ("jac-true-not-a-pair", _minimize(jac=True), TypeError, ["`fun`", "13.0"]),
    ("comm-a-string", lambda: mpicg.fit(mpicg.Problem(lambda x, t: x[0] + 0 * t, [0.0, 1.0],
                                                      [1.0, 1.0], [1.0, 1.0]), [0.0],
                                        comm="world"),
     ValueError, ["`comm`", "'world'"]),
]


@pytest.mark.parametrize(("call", "exc", "fragments"), [b[1:] for b in BAD_INPUTS],
                         ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_refused_with_a_clear_message(call, exc, fragments):
    pattern = "".join(f"(?=[\\s\\S]*{re.escape(frag)})" for frag in fragments)
    with pytest.raises(exc, match=pattern):
        call()


@pytest.mark.parametrize("method", ["CG", "cg", "Cg"])
def test_method_name_is_case_insensitive(method):
    res = mpicg.minimize(sphere, X0, method=method, jac=sphere_grad)
    assert res.success


def test_x0_scalar_and_integers_are_accepted_as_scipy_does():
    xs = scipy.optimize.fmin_cg(sphere, [3, -2], fprime=sphere_grad, disp=0)
    xm = mpicg.fmin_cg(sphere, [3, -2], fprime=sphere_grad, disp=0)
    np.testing.assert_array_equal(xm, xs)
    assert xm.dtype == np.float64
    x1 = mpicg.fmin_cg(lambda x: float((x[0] - 2) ** 2), 5.0, disp=0)
    assert x1.shape == (1,)


@pytest.mark.parametrize("n", [1, 2, 7])
def test_maxiter_none_means_200_per_parameter(n):
    assert check_maxiter(None, n) == 200 * n
    assert check_maxiter(5.0, n) == 5


def test_maxiter_limits_iterations_exactly():
    res = mpicg.minimize(rosen, np.array([-1.2, 1.0]), jac=rosen_der,
                         options={"maxiter": 3})
    assert (res.nit, res.status, res.success) == (3, 1, False)
    assert res.message == "Maximum number of iterations has been exceeded."


# -- callbacks --------------------------------------------------------------------------

def test_callback_intermediate_result_form():
    seen = []

    def callback(intermediate_result):
        assert isinstance(intermediate_result, mpicg.OptimizeResult)
        seen.append((intermediate_result.x.copy(), intermediate_result.fun))

    res = mpicg.minimize(rosen, np.array([-1.2, 1.0]), jac=rosen_der, callback=callback,
                         options={"return_all": True})
    assert len(seen) == res.nit
    for k, (x, fun) in enumerate(seen, start=1):
        np.testing.assert_array_equal(x, res.allvecs[k])
        assert fun == rosen(x)
    assert seen[-1][1] == res.fun


@pytest.mark.parametrize("api", ["fmin_cg", "minimize"])
def test_callback_xk_form_gets_a_copy(api):
    seen = []

    def callback(xk):
        seen.append(xk.copy())
        xk[:] = 1e6  # must not disturb the run

    x0 = np.array([-1.2, 1.0])
    if api == "fmin_cg":
        xopt, allvecs = mpicg.fmin_cg(rosen, x0, fprime=rosen_der, callback=callback,
                                      disp=0, retall=1)
        reference = mpicg.fmin_cg(rosen, x0, fprime=rosen_der, disp=0)
    else:
        res = mpicg.minimize(rosen, x0, jac=rosen_der, callback=callback,
                             options={"return_all": True})
        xopt, allvecs = res.x, res.allvecs
        reference = mpicg.minimize(rosen, x0, jac=rosen_der).x
    np.testing.assert_array_equal(xopt, reference)
    assert len(seen) == len(allvecs) - 1
    for got, expected in zip(seen, allvecs[1:], strict=True):
        np.testing.assert_array_equal(got, expected)


def test_callback_with_other_parameters_gets_xk():
    seen = []

    def callback(xk, intermediate_result=None):
        seen.append((type(xk), intermediate_result))

    mpicg.minimize(sphere, X0, jac=sphere_grad, callback=callback)
    assert seen
    assert all(t is np.ndarray and r is None for t, r in seen)


@pytest.mark.parametrize("form", ["xk", "intermediate_result"])
def test_minimize_callback_stop_iteration_status_99(form):
    calls = []

    if form == "xk":
        def callback(xk):
            calls.append(xk)
            if len(calls) == 3:
                raise StopIteration
    else:
        def callback(intermediate_result):
            calls.append(intermediate_result.x)
            if len(calls) == 3:
                raise StopIteration

    res = mpicg.minimize(rosen, np.array([-1.2, 1.0]), jac=rosen_der, callback=callback,
                         options={"return_all": True})
    assert res.status == 99
    assert res.success is False
    assert res.message == "`callback` raised `StopIteration`."
    assert res.nit == 3
    assert len(calls) == 3
    np.testing.assert_array_equal(res.x, calls[-1])
    np.testing.assert_array_equal(res.x, res.allvecs[-1])


def test_fmin_cg_callback_stop_iteration_returns_the_current_point():
    calls = []

    def callback(xk):
        calls.append(xk)
        if len(calls) == 2:
            raise StopIteration

    xopt, fopt, _, _, warnflag, allvecs = mpicg.fmin_cg(
        rosen, np.array([-1.2, 1.0]), fprime=rosen_der, callback=callback, disp=0,
        full_output=1, retall=1)
    assert len(allvecs) == 3
    np.testing.assert_array_equal(xopt, calls[-1])
    assert fopt == rosen(xopt)
    assert warnflag == 0  # fmin_cg keeps the warnflag, as scipy does


def test_minimize_stop_iteration_with_disp_prints_scipys_summary(capsys):
    def callback(xk):
        raise StopIteration

    rs = scipy.optimize.minimize(sphere, X0, jac=sphere_grad, callback=callback,
                                 method="CG", options={"disp": True})
    out_scipy = capsys.readouterr().out
    rm = mpicg.minimize(sphere, X0, jac=sphere_grad, callback=callback,
                        options={"disp": True})
    assert capsys.readouterr().out == out_scipy
    assert "Iterations: 1" in out_scipy
    assert rm.status == rs.status == 99


# -- options and tol ---------------------------------------------------------------------

def test_unknown_option_warns_and_is_ignored():
    with pytest.warns(mpicg.OptimizeWarning, match="Unknown solver options: frobnicate"):
        res = mpicg.minimize(sphere, X0, jac=sphere_grad, options={"frobnicate": 3})
    reference = mpicg.minimize(sphere, X0, jac=sphere_grad)
    np.testing.assert_array_equal(res.x, reference.x)
    assert res.nfev == reference.nfev


def test_unknown_option_warns_like_scipy():
    with pytest.warns(scipy.optimize.OptimizeWarning, match="Unknown solver options: xtol"):
        scipy.optimize.minimize(sphere, X0, jac=sphere_grad, method="CG",
                                options={"xtol": 1e-3})
    with pytest.warns(mpicg.OptimizeWarning, match="Unknown solver options: xtol"):
        mpicg.minimize(sphere, X0, jac=sphere_grad, options={"xtol": 1e-3})


@pytest.mark.parametrize("tol", [1e-2, 1e-3, 1e-7])
def test_tol_sets_gtol(tol):
    x0 = np.array([-1.2, 1.0])
    by_tol = mpicg.minimize(rosen, x0, jac=rosen_der, tol=tol)
    by_gtol = mpicg.minimize(rosen, x0, jac=rosen_der, options={"gtol": tol})
    scipy_tol = scipy.optimize.minimize(rosen, x0, jac=rosen_der, method="CG", tol=tol)
    assert (by_tol.nit, by_tol.nfev) == (by_gtol.nit, by_gtol.nfev)
    assert (by_tol.nit, by_tol.nfev) == (scipy_tol.nit, scipy_tol.nfev)
    np.testing.assert_array_equal(by_tol.x, by_gtol.x)
    assert np.max(np.abs(by_tol.jac)) <= tol


def test_explicit_gtol_wins_over_tol():
    x0 = np.array([-1.2, 1.0])
    both = mpicg.minimize(rosen, x0, jac=rosen_der, tol=1e-1, options={"gtol": 1e-6})
    only_gtol = mpicg.minimize(rosen, x0, jac=rosen_der, options={"gtol": 1e-6})
    assert both.nit == only_gtol.nit


def test_default_tol_is_1e_5():
    x0 = np.array([-1.2, 1.0])
    default = mpicg.minimize(rosen, x0, jac=rosen_der)
    explicit = mpicg.minimize(rosen, x0, jac=rosen_der, tol=1e-5)
    assert default.nit == explicit.nit
    loose = mpicg.minimize(rosen, x0, jac=rosen_der, tol=1e-2)
    assert loose.nit < default.nit


def test_args_not_a_tuple_is_wrapped_as_scipy_does():
    def f(x, a):
        return float(np.sum((x - a) ** 2))

    rs = scipy.optimize.minimize(f, X0, args=2.0, method="CG")
    rm = mpicg.minimize(f, X0, args=2.0)
    np.testing.assert_array_equal(rm.x, rs.x)


def test_result_attribute_access():
    res = mpicg.minimize(sphere, X0, jac=sphere_grad)
    assert res.x is res["x"]
    assert set(res) >= {"x", "fun", "jac", "nit", "nfev", "njev", "status", "success",
                        "message"}
    with pytest.raises(AttributeError, match="hess_inv"):
        _ = res.hess_inv
    assert "x" in dir(res)
    assert "fun:" in repr(res)
