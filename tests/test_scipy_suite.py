"""scipy's own CG tests, from the installed scipy, with mpicg in place of scipy's CG.

The installed scipy's ``scipy/optimize/tests`` hold 45 tests (scipy 1.17.1) that run CG:
through ``minimize(method='CG')``, ``fmin_cg``, and CG as the local minimizer of
basinhopping, dual_annealing and shgo (the list: tests/scipy_suite/cg_tests.txt). Two pytest
sessions run them in subprocesses (tests/scipy_suite/cg_substitute.py): one with scipy's CG
(the baseline), one with every such call handed, exactly as made, to ``mpicg.minimize`` or
``mpicg.fmin_cg``; both with warnings as errors, as scipy's CI runs them. Each scipy test is
one test here: if it passes with scipy it must pass with mpicg, mpicg must have been called
in it, and scipy's CG core never.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

scipy = pytest.importorskip("scipy")

HERE = Path(__file__).resolve().parent / "scipy_suite"
IDS = [line.strip() for line in (HERE / "cg_tests.txt").read_text().splitlines()
       if line.strip() and not line.startswith("#")]
LISTED_FOR = "1.17.1"  # the scipy whose tests cg_tests.txt lists


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> dict[str, dict]:
    """The two sessions' records, run at the same time: scipy's CG, and mpicg's."""
    site = Path(scipy.__file__).parent / "optimize" / "tests"
    if not (site / "test_optimize.py").exists():
        pytest.skip(f"scipy {scipy.__version__} is installed without its tests ({site})")
    sys.path.insert(0, str(HERE))
    try:
        from cg_substitute import start_scipy_tests
    finally:
        sys.path.remove(str(HERE))
    tmp = tmp_path_factory.mktemp("scipy-cg")
    ini = tmp / "pytest.ini"
    ini.write_text("[pytest]\n")
    started = {use: (start_scipy_tests(IDS, use, tmp / f"{use}.json", ini,
                                       extra=["-W", "error"]), tmp / f"{use}.json")
               for use in ("scipy", "mpicg")}
    out = {}
    for use, (process, record) in started.items():
        try:
            output, _ = process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        if not record.exists():
            pytest.fail(f"scipy's tests did not run with {use} (exit {process.returncode}):"
                        f"\n{output[-4000:]}")
        out[use] = json.loads(record.read_text())
    return out


@pytest.fixture(scope="module")
def with_scipy(records):
    return records["scipy"]


@pytest.fixture(scope="module")
def with_mpicg(records):
    return records["mpicg"]


def test_the_substitution_replaced_every_binding(with_mpicg):
    rebound = set(with_mpicg["rebound"])
    for name in ("scipy.optimize.minimize", "scipy.optimize._minimize.minimize",
                 "scipy.optimize._shgo.minimize", "scipy.optimize._dual_annealing.minimize",
                 "scipy.optimize.fmin_cg", "scipy.optimize._optimize.fmin_cg"):
        assert name in rebound, sorted(rebound)


def test_every_listed_test_ran_and_runs_cg_with_scipy(with_scipy):
    if scipy.__version__ != LISTED_FOR:
        pytest.skip(f"cg_tests.txt lists scipy {LISTED_FOR}'s tests; this is "
                    f"{scipy.__version__} (re-derive: cg_substitute.py --discover)")
    ran = with_scipy["tests"]
    assert len(IDS) == 45
    assert [i for i in IDS if not ran.get(i, {}).get("calls")] == []
    assert [i for i in IDS if ran[i]["outcome"] != "passed"] == []


@pytest.mark.parametrize("nodeid", IDS, ids=[i.split("/tests/", 1)[1] for i in IDS])
def test_passes_with_mpicg(nodeid, with_scipy, with_mpicg):
    baseline = with_scipy["tests"].get(nodeid)
    if baseline is None or baseline["outcome"] is None:
        pytest.skip(f"not in the installed scipy {scipy.__version__}")
    if baseline["outcome"] != "passed":
        pytest.skip(f"does not pass with scipy's own CG here ({baseline['outcome']})")
    entry = with_mpicg["tests"].get(nodeid, {"calls": {}, "outcome": None, "message": ""})
    assert entry["outcome"] == "passed", entry["message"] or entry["outcome"]
    calls = entry["calls"]
    assert calls.get("mpicg.minimize", 0) + calls.get("mpicg.fmin_cg", 0) > 0, \
        f"mpicg was not called: {calls}"
    assert not calls.get("leak: scipy core"), f"scipy's own CG ran: {calls}"
