"""A pytest plugin: scipy's own optimize tests, with mpicg wherever they run scipy's CG.

Loaded into a pytest session over the installed scipy's ``scipy/optimize/tests`` with
``-p cg_substitute --cg-with=mpicg|scipy --cg-record=FILE`` (this directory on
``PYTHONPATH``), it acts before collection, so that the test modules, imported later, bind
what it installs:

``--cg-with=mpicg``
    Every module-level name bound to scipy's ``minimize`` (``scipy.optimize.minimize``, and
    the copies ``shgo``, ``dual_annealing`` and ``differential_evolution`` hold) becomes a
    function that hands a call whose ``method`` is CG (any case) to :func:`mpicg.minimize`
    exactly as the caller made it (same positional and keyword arguments), and any other
    method to scipy. Every name bound to ``fmin_cg`` becomes :func:`mpicg.fmin_cg`, called
    the same way. scipy's own CG core (``_minimize_cg``, both bindings) is wrapped to record
    a *leak* if a CG run ever reaches it.
``--cg-with=scipy``
    Nothing changes but the counting: scipy's CG entry points are wrapped to record the
    calls (the baseline, and what ``--discover`` uses).

The record (JSON) holds, per test node id, its outcome and how many CG runs each entry point
saw, so a caller can check that every test ran and that mpicg was actually the one called.

Re-derive the list of scipy's tests that run CG (after a scipy upgrade) with
``python tests/scipy_suite/cg_substitute.py --discover > tests/scipy_suite/cg_tests.txt``
(it runs the whole ``scipy.optimize.tests`` suite once, about two minutes).
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

__all__ = ["pytest_addoption", "pytest_configure", "start_scipy_tests"]

_RECORD: dict[str, dict] = {}
_STATE = {"test": "<collection>", "with": "scipy", "rebound": []}


def _entry(nodeid: str) -> dict:
    return _RECORD.setdefault(nodeid, {"calls": {}, "outcome": None, "message": ""})


def _count(kind: str) -> None:
    calls = _entry(_STATE["test"])["calls"]
    calls[kind] = calls.get(kind, 0) + 1


def pytest_addoption(parser):
    group = parser.getgroup("cg-substitute")
    group.addoption("--cg-with", choices=("mpicg", "scipy"), default="scipy",
                    help="which CG scipy's tests run")
    group.addoption("--cg-record", default=None, help="write the JSON record here")


def _is_cg(method) -> bool:
    return isinstance(method, str) and method.lower() == "cg"


def _rebind(original, replacement) -> list[str]:
    """Point every module-level name bound to ``original`` at ``replacement``."""
    names = []
    for module_name, module in list(sys.modules.items()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for attr, value in list(namespace.items()):
            if value is original:
                namespace[attr] = replacement
                names.append(f"{module_name}.{attr}")
    return names


def _install(use: str) -> list[str]:
    import scipy.optimize
    from scipy.optimize import _minimize, _optimize

    scipy_minimize, scipy_fmin_cg = _minimize.minimize, _optimize.fmin_cg
    signature = inspect.signature(scipy_minimize)

    def method_of(args, kwargs):
        try:
            return signature.bind(*args, **kwargs).arguments.get("method")
        except TypeError:  # let the callee report a bad call
            return None

    core = _optimize._minimize_cg
    label = "scipy core" if use == "scipy" else "leak: scipy core"

    @functools.wraps(core)
    def counted_core(*args, **kwargs):
        _count(label)
        return core(*args, **kwargs)

    _minimize._minimize_cg = _optimize._minimize_cg = counted_core

    if use == "mpicg":
        import mpicg

        @functools.wraps(scipy_minimize)
        def minimize(*args, **kwargs):
            if _is_cg(method_of(args, kwargs)):
                _count("mpicg.minimize")
                return mpicg.minimize(*args, **kwargs)
            return scipy_minimize(*args, **kwargs)

        @functools.wraps(scipy_fmin_cg)
        def fmin_cg(*args, **kwargs):
            _count("mpicg.fmin_cg")
            return mpicg.fmin_cg(*args, **kwargs)
    else:
        @functools.wraps(scipy_minimize)
        def minimize(*args, **kwargs):
            if _is_cg(method_of(args, kwargs)):
                _count("scipy.minimize")
            return scipy_minimize(*args, **kwargs)

        @functools.wraps(scipy_fmin_cg)
        def fmin_cg(*args, **kwargs):
            _count("scipy.fmin_cg")
            return scipy_fmin_cg(*args, **kwargs)

    rebound = _rebind(scipy_minimize, minimize) + _rebind(scipy_fmin_cg, fmin_cg)
    if scipy.optimize.minimize is not minimize or scipy.optimize.fmin_cg is not fmin_cg:
        raise RuntimeError("could not replace scipy.optimize.minimize / fmin_cg")
    return rebound


def pytest_configure(config):
    _STATE["with"] = config.getoption("--cg-with")
    _STATE["rebound"] = _install(_STATE["with"])


def pytest_report_header(config):
    return [f"cg-substitute: CG runs with {_STATE['with']}; replaced "
            + ", ".join(_STATE["rebound"])]


def pytest_runtest_logstart(nodeid, location):
    _STATE["test"] = nodeid


def pytest_runtest_logfinish(nodeid, location):
    _STATE["test"] = "<between tests>"


def pytest_runtest_logreport(report):
    entry = _entry(report.nodeid)
    if report.when == "call" or report.outcome != "passed":
        outcome = report.outcome
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.skipped else "xpassed"
        if entry["outcome"] in (None, "passed"):
            entry["outcome"] = outcome
            if report.outcome != "passed":
                entry["message"] = str(report.longrepr)[-3000:]


def pytest_sessionfinish(session, exitstatus):
    path = session.config.getoption("--cg-record")
    if path:
        Path(path).write_text(json.dumps({"with": _STATE["with"],
                                          "rebound": _STATE["rebound"],
                                          "tests": _RECORD}, indent=1))


def start_scipy_tests(ids: list[str], use: str, record: Path, ini: Path,
                      extra=()) -> subprocess.Popen:
    """Start a pytest subprocess on scipy's test node ids (relative to site-packages).

    ``ini`` is an empty pytest ini file, so that no project's configuration applies (the
    virtualenv may live inside a project). The outcomes go to ``record``; the output to the
    process's pipes (read them with ``communicate``).
    """
    site = sysconfig.get_paths()["purelib"]
    command = [sys.executable, "-m", "pytest", "-c", str(ini), f"--rootdir={site}",
               "-p", "no:cacheprovider", "-q", "-p", "cg_substitute", f"--cg-with={use}",
               f"--cg-record={record}", *extra, *[f"{site}/{i}" for i in ids]]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parent)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH")
                                                  else []))
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, cwd=site)


def _discover() -> int:
    """Print the node ids of ``scipy.optimize.tests`` that run CG (scipy's own)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        ini, record = Path(tmp) / "pytest.ini", Path(tmp) / "record.json"
        ini.write_text("[pytest]\n")
        start_scipy_tests(["scipy/optimize/tests"], "scipy", record, ini).communicate()
        tests = json.loads(record.read_text())["tests"]
    import scipy

    print(f"# scipy {scipy.__version__}: the tests of scipy/optimize/tests that run CG")
    for nodeid in sorted(t for t, e in tests.items() if e["calls"] and "::" in t):
        print(nodeid)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["--discover"]:
        sys.exit("usage: python cg_substitute.py --discover > cg_tests.txt")
    sys.exit(_discover())
