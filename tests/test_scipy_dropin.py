"""scipy's argument semantics in the drop-ins, each compared with scipy itself.

scipy's whole signature of ``minimize`` (hess, hessp, bounds, constraints: warned about and
ignored), ``maxiter`` as any number, ``c1``/``c2`` checked at the first line search,
``jac='cs'``, the ``workers`` option, and ``OptimizeWarning`` being scipy's class. scipy's own
CG tests run against mpicg in tests/test_scipy_suite.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.optimize
from _mpirun import ROOT, run_mpi
from problems import rosen, rosen_der

import mpicg

X0 = np.array([-1.2, 1.0, 0.5])


def _outcome(res) -> tuple:
    return (res.status, res.success, res.message, res.nit, res.nfev, res.njev,
            res.x.tobytes(), np.asarray(res.jac).tobytes(), float(res.fun))


def _both(*args, **kwargs):
    """scipy's and mpicg's result (and warnings) for the same call."""
    out = []
    for minimize in (scipy.optimize.minimize, mpicg.minimize):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = minimize(*args, **kwargs)
        out.append((res, [(w.category, str(w.message)) for w in caught]))
    return out


class Counted:
    """An objective that counts its calls."""

    def __init__(self, fun=rosen):
        self.fun, self.calls = fun, 0

    def __call__(self, x, *args):
        self.calls += 1
        return self.fun(x, *args)


# -- the signature ----------------------------------------------------------------------

def test_signature_is_scipys_argument_for_argument():
    import inspect

    ours = list(inspect.signature(mpicg.minimize).parameters)
    theirs = list(inspect.signature(scipy.optimize.minimize).parameters)
    assert ours == theirs


@pytest.mark.parametrize("method", ["CG", "cg"])
def test_what_cg_ignores_is_warned_about_in_scipys_words_and_ignored(method):
    hess = np.eye(3).__matmul__
    args = (rosen, X0, (), method, rosen_der, hess, hess, [(-2, 2)] * 3,
            {"type": "eq", "fun": lambda x: x[0]}, None, None, {"maxiter": 5})
    (rs, ws), (rm, wm) = _both(*args)  # every argument positionally, in scipy's order
    assert _outcome(rm) == _outcome(rs)
    assert wm == ws
    assert [str(m) for _, m in wm] == [
        f"Method {method} does not use Hessian information (hess).",
        f"Method {method} does not use Hessian-vector product information (hessp).",
        f"Method {method} cannot handle constraints.",
        f"Method {method} cannot handle bounds."]
    assert {c for c, _ in wm} == {RuntimeWarning}


def test_the_warning_points_at_the_callers_line():
    with pytest.warns(RuntimeWarning, match="cannot handle bounds") as record:
        mpicg.minimize(rosen, X0, method="CG", jac=rosen_der, bounds=[(0, 1)] * 3)
    assert record[0].filename == __file__


@pytest.mark.parametrize(("bounds", "message"), [
    ([(1, 0), (0, 1), (0, 1)], "An upper bound is less than the corresponding lower bound."),
    ([(0, 1), (0, 1)], "The number of bounds is not compatible with the length of `x0`."),
    (scipy.optimize.Bounds([0, 0, 0, 0], [1, 1, 1, 1]),
     "The number of bounds is not compatible with the length of `x0`."),
])
def test_bad_bounds_are_refused_as_scipy_refuses_them(bounds, message):
    for minimize in (scipy.optimize.minimize, mpicg.minimize):
        with pytest.warns(RuntimeWarning), \
                pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            minimize(rosen, X0, method="CG", jac=rosen_der, bounds=bounds)


# -- maxiter ------------------------------------------------------------------------------

@pytest.mark.parametrize("maxiter", [0, -3, 2.5, 3.0, np.inf])
@pytest.mark.parametrize("jac", [None, rosen_der, "2-point"], ids=["fd", "jac", "2-point"])
def test_maxiter_any_number_as_scipy(maxiter, jac):
    options = {"maxiter": maxiter, "gtol": 1e-3}
    (rs, _), (rm, _) = _both(rosen, X0, method="CG", jac=jac, options=options)
    assert _outcome(rm) == _outcome(rs)


@pytest.mark.parametrize("maxiter", [0, 2.5])
def test_fmin_cg_maxiter_any_number_as_scipy(maxiter, capsys):
    expected = scipy.optimize.fmin_cg(rosen, X0, rosen_der, maxiter=maxiter, full_output=True,
                                      disp=False)
    got = mpicg.fmin_cg(rosen, X0, rosen_der, maxiter=maxiter, full_output=True, disp=False)
    assert got[0].tobytes() == expected[0].tobytes()
    assert got[1:] == expected[1:]


def test_maxiter_zero_with_disp_warns_like_scipy(capsys):
    with pytest.warns(mpicg.OptimizeWarning, match="Maximum number of iterations"):
        mpicg.minimize(rosen, X0, method="CG", options={"maxiter": 0, "disp": True})
    out = capsys.readouterr().out
    assert "Iterations: 0" in out
    assert "Function evaluations: 4" in out  # f(x0) and 3 forward points, as scipy


# -- c1, c2 -------------------------------------------------------------------------------

@pytest.mark.parametrize(("c1", "c2"), [(0.5, 2), (-0.1, 0.1), (0.2, 0.1)])
def test_c1_c2_refused_after_the_start_is_evaluated_as_scipy(c1, c2):
    counts = []
    for minimize in (scipy.optimize.minimize, mpicg.minimize):
        f = Counted()
        with pytest.raises(ValueError, match="'c1' and 'c2'") as caught:
            minimize(f, X0, method="CG", options={"c1": c1, "c2": c2})
        counts.append(f.calls)
    assert counts[1] == counts[0] == 1 + X0.size  # f(x0) and its gradient, then the error
    assert f"c1={c1!r}, c2={c2!r}" in str(caught.value)


def test_c1_c2_not_checked_when_no_iteration_runs_as_scipy():
    (rs, _), (rm, _) = _both(rosen, np.ones(3), method="CG", jac=rosen_der,
                             options={"c1": 0.5, "c2": 0.1})  # the minimum: gnorm 0
    assert _outcome(rm) == _outcome(rs)
    assert rm.status == 0


def test_mpicgs_own_fits_still_refuse_c1_c2_before_any_evaluation():
    from mpicg.models import TransitModel

    model = TransitModel(period=3.0, resolution=4)
    times = np.linspace(0, 3, 50)
    with pytest.raises(ValueError, match="`c1` and `c2` must satisfy"):
        mpicg.optimizer_cg(model, times, np.ones(50), np.full(50, 1e-3),
                           fit_parameters=["rp"], c1=0.5, c2=0.1)


# -- jac='cs' -----------------------------------------------------------------------------

def _complex_rosen(x, scale=1.0):
    return scale * np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


@pytest.mark.parametrize("rel_step", [None, 1e-6, [1e-5, 1e-6, 1e-7]])
def test_complex_step_as_scipy(rel_step):
    (rs, _), (rm, _) = _both(_complex_rosen, X0, args=(2.0,), method="CG", jac="cs",
                             options={"finite_diff_rel_step": rel_step})
    assert _outcome(rm) == _outcome(rs)
    assert rm.success


def test_complex_step_needs_a_callable_not_a_problem():
    problem = mpicg.Problem(lambda x, t: x[0] * t, np.arange(5.0), np.arange(5.0),
                            np.ones(5))
    with pytest.raises(mpicg.InputError, match=r"'cs'.*complex"):
        mpicg.fit(problem, [1.5], jac="cs")


# -- workers ------------------------------------------------------------------------------

class Recording:
    """A map-like callable that records how many points it mapped."""

    def __init__(self):
        self.points = 0

    def __call__(self, function, iterable):
        points = list(iterable)
        self.points += len(points)
        return map(function, points)


@pytest.mark.parametrize("jac", [None, "3-point", "cs"])
def test_workers_map_computes_the_finite_difference_points(jac):
    fun = _complex_rosen if jac == "cs" else rosen
    plain = mpicg.minimize(fun, X0, method="CG", jac=jac, options={"gtol": 1e-4})
    workers = Recording()
    mapped = mpicg.minimize(fun, X0, method="CG", jac=jac,
                            options={"gtol": 1e-4, "workers": workers})
    assert _outcome(mapped) == _outcome(plain)
    assert workers.points >= mapped.njev * X0.size  # every gradient went through it
    reference = scipy.optimize.minimize(fun, X0, method="CG", jac=jac,
                                        options={"gtol": 1e-4, "workers": map})
    assert _outcome(mapped) == _outcome(reference)


def test_workers_unused_with_an_analytic_gradient_as_scipy():
    workers = Recording()
    mpicg.minimize(rosen, X0, method="CG", jac=rosen_der, options={"workers": workers})
    assert workers.points == 0


def test_workers_as_a_number_is_a_process_pool():
    plain = mpicg.minimize(rosen, X0, method="CG", options={"gtol": 1e-4})
    pooled = mpicg.minimize(rosen, X0, method="CG", options={"gtol": 1e-4, "workers": 2})
    assert _outcome(pooled) == _outcome(plain)
    with pytest.raises(ValueError, match=r"`workers`.*0"):
        mpicg.minimize(rosen, X0, method="CG", options={"workers": 0})


def test_workers_under_mpi_the_ranks_share_the_points(tmp_path):
    # each rank writes its own file: two ranks' printed lines can interleave
    code = ("import sys, json, os, numpy as np, mpicg\n"
            "from scipy.optimize import rosen\n"
            "seen = []\n"
            "def workers(f, points):\n"
            "    points = list(points); seen.extend(points); return map(f, points)\n"
            "res = mpicg.minimize(rosen, np.array([-1.2, 1.0, 0.5]), method='CG',\n"
            "                     options={'gtol': 1e-4, 'workers': workers})\n"
            "rank = os.environ.get('PMI_RANK', os.environ.get('OMPI_COMM_WORLD_RANK'))\n"
            "with open(os.path.join(sys.argv[1], f'rank{rank}.json'), 'w') as f:\n"
            "    json.dump([res.x.tobytes().hex(), int(res.nfev), len(seen)], f)\n")
    job = run_mpi(2, ["-c", code, str(tmp_path)], timeout=120)
    assert job.returncode == 0, job.output
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    serial = mpicg.minimize(rosen, X0, method="CG", options={"gtol": 1e-4})
    assert [x for x, _, _ in results] == [serial.x.tobytes().hex()] * 2
    assert [n for _, n, _ in results] == [serial.nfev] * 2
    assert [seen for _, _, seen in results] == [0, 0]  # not used: the ranks shared them


# -- OptimizeWarning ------------------------------------------------------------------------

def test_optimize_warning_is_scipys_class():
    assert mpicg.OptimizeWarning is scipy.optimize.OptimizeWarning
    assert mpicg.optimize.OptimizeWarning is scipy.optimize.OptimizeWarning
    from mpicg import OptimizeWarning

    assert OptimizeWarning is scipy.optimize.OptimizeWarning


def test_a_filter_written_for_scipy_catches_mpicgs_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", scipy.optimize.OptimizeWarning)
        with pytest.raises(scipy.optimize.OptimizeWarning, match="Maximum number"):
            mpicg.minimize(rosen, X0, method="CG", options={"maxiter": 2, "disp": True})


def test_without_scipy_optimize_warning_is_mpicgs_own_user_warning():
    script = (
        "import sys, warnings\n"
        "class NoScipy:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'scipy' or name.startswith('scipy.'):\n"
        "            raise ImportError('scipy is hidden by the test')\n"
        "sys.meta_path.insert(0, NoScipy())\n"
        "import numpy as np, mpicg\n"
        "W = mpicg.OptimizeWarning\n"
        "assert issubclass(W, UserWarning) and W.__name__ == 'OptimizeWarning', W\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    mpicg.fmin_cg(lambda x: float((x**2).sum()), np.ones(2), maxiter=1)\n"
        "assert [w.category for w in caught] == [W], caught\n"
        "assert 'scipy' not in sys.modules\n"
        "print('OK')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK" in done.stdout


def test_import_mpicg_does_not_import_scipy():
    done = subprocess.run([sys.executable, "-c", "import sys, mpicg; "
                           "print('scipy' in sys.modules)"], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.stdout.strip() == "False", done.stdout + done.stderr
