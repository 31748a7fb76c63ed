"""scipy's fmin_cg documentation example, printed summary and all, through mpicg."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
from problems import doc_quadratic, doc_quadratic_grad, rosen, rosen_der

import mpicg

ARGS = (2, 3, 7, 8, 9, 10)
X0 = np.asarray((0, 0))
EXPECTED_X = [-1.80851064, -0.25531915]
EXPECTED_SUMMARY = (
    "Optimization terminated successfully.\n"
    "         Current function value: 1.617021\n"
    "         Iterations: 4\n"
    "         Function evaluations: 8\n"
    "         Gradient evaluations: 8\n"
)
MAXITER_SUMMARY_TAIL = (
    "         Current function value: 4.130132\n"
    "         Iterations: 1\n"
    "         Function evaluations: 6\n"
    "         Gradient evaluations: 5\n"
)


@pytest.mark.parametrize("module", [scipy.optimize, mpicg], ids=["scipy", "mpicg"])
def test_fmin_cg_doc_example_prints_scipys_summary(module, capsys):
    xopt = module.fmin_cg(doc_quadratic, X0, fprime=doc_quadratic_grad, args=ARGS)
    assert capsys.readouterr().out == EXPECTED_SUMMARY
    np.testing.assert_allclose(xopt, EXPECTED_X, rtol=0, atol=5e-9)


def test_fmin_cg_doc_example_output_identical_to_scipy(capsys):
    xs = scipy.optimize.fmin_cg(doc_quadratic, X0, fprime=doc_quadratic_grad, args=ARGS)
    out_scipy = capsys.readouterr().out
    xm = mpicg.fmin_cg(doc_quadratic, X0, fprime=doc_quadratic_grad, args=ARGS)
    out_mpicg = capsys.readouterr().out
    assert out_mpicg == out_scipy
    np.testing.assert_array_equal(xm, xs)


@pytest.mark.parametrize("module", [scipy.optimize, mpicg], ids=["scipy", "mpicg"])
def test_minimize_doc_example_prints_scipys_summary(module, capsys):
    kwargs = {"method": "CG"} if module is scipy.optimize else {}
    res = module.minimize(doc_quadratic, X0, jac=doc_quadratic_grad, args=ARGS,
                          options={"disp": True}, **kwargs)
    assert capsys.readouterr().out == EXPECTED_SUMMARY
    np.testing.assert_allclose(res.x, EXPECTED_X, rtol=0, atol=5e-9)
    assert res.success
    assert (res.nit, res.nfev, res.njev) == (4, 8, 8)


def test_minimize_doc_example_scipy_options_dict(capsys):
    # The documentation's second example passes every CG option explicitly.
    opts = {"maxiter": None, "disp": True, "gtol": 1e-5, "norm": np.inf,
            "eps": 1.4901161193847656e-08}
    rs = scipy.optimize.minimize(doc_quadratic, X0, jac=doc_quadratic_grad, args=ARGS,
                                 method="CG", options=opts)
    out_scipy = capsys.readouterr().out
    rm = mpicg.minimize(doc_quadratic, X0, jac=doc_quadratic_grad, args=ARGS,
                        method="CG", options=opts)
    assert capsys.readouterr().out == out_scipy == EXPECTED_SUMMARY
    np.testing.assert_array_equal(rm.x, rs.x)


def test_fmin_cg_disp_false_prints_nothing(capsys):
    mpicg.fmin_cg(doc_quadratic, X0, fprime=doc_quadratic_grad, args=ARGS, disp=False)
    assert capsys.readouterr().out == ""


def test_maxiter_run_warns_like_scipy(capsys):
    x0 = np.array([-1.2, 1.0])
    with pytest.warns(scipy.optimize.OptimizeWarning,
                      match="Maximum number of iterations has been exceeded"):
        scipy.optimize.fmin_cg(rosen, x0, fprime=rosen_der, maxiter=1)
    out_scipy = capsys.readouterr().out
    with pytest.warns(mpicg.OptimizeWarning,
                      match="Maximum number of iterations has been exceeded"):
        mpicg.fmin_cg(rosen, x0, fprime=rosen_der, maxiter=1)
    out_mpicg = capsys.readouterr().out
    assert out_mpicg == out_scipy == MAXITER_SUMMARY_TAIL


def test_minimize_maxiter_disp_warns(capsys):
    with pytest.warns(mpicg.OptimizeWarning, match="Maximum number of iterations"):
        res = mpicg.minimize(rosen, np.array([-1.2, 1.0]), jac=rosen_der,
                             options={"maxiter": 1, "disp": True})
    assert res.status == 1
    assert not res.success
    assert capsys.readouterr().out == MAXITER_SUMMARY_TAIL


_MAXITER_CALLS = {
    "fmin_cg": lambda x0: mpicg.fmin_cg(rosen, x0, fprime=rosen_der, maxiter=1),
    "minimize": lambda x0: mpicg.minimize(rosen, x0, jac=rosen_der,
                                          options={"maxiter": 1, "disp": True}),
}


@pytest.mark.parametrize("api", sorted(_MAXITER_CALLS))
def test_unsuccessful_run_warning_points_at_the_caller(api, capsys):
    # warn_unsuccessful() is given a stacklevel so that the warning is attributed to the
    # user's call (here: the lambdas above, in this file), not to a line inside mpicg.
    with pytest.warns(mpicg.OptimizeWarning) as record:
        _MAXITER_CALLS[api](np.array([-1.2, 1.0]))
    capsys.readouterr()
    assert [w.filename for w in record if w.category is mpicg.OptimizeWarning] == [__file__]


def test_precision_loss_disp_warns(capsys):
    x0 = np.array([-1.2, 1.0])
    with pytest.warns(mpicg.OptimizeWarning, match="precision loss"):
        # gtol = 0: no gradient is small enough, so the run ends when the line search can
        # go no further (warnflag 2) on any CPU; with the default gtol, whether forward
        # differences reach gtol first hangs on the CPU's last bits
        mpicg.fmin_cg(rosen, x0, gtol=0.0)
    out = capsys.readouterr().out
    assert out.startswith("         Current function value: ")
    assert "Optimization terminated successfully." not in out


def test_optimize_warning_is_a_user_warning():
    assert issubclass(mpicg.OptimizeWarning, UserWarning)
