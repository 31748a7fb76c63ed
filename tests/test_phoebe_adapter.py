"""The PHOEBE adapter: PHOEBE's own fluxes, the per-chunk contract, pickling, errors, MPI.

Skipped as a whole when PHOEBE is not installed (``pip install phoebe``). The bundles use a
coarse mesh (300 triangles per star instead of 1500) and few times, to keep these tests fast.
"""

import functools
import importlib.util
import json
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest
from _mpirun import ROOT, SCRIPTS, run_mpi, run_script

from mpicg.errors import InputError

# The adapter first (it does not import PHOEBE): it sets PHOEBE's environment (no MPI, no
# passband server) before the plain import below.
from mpicg.models.phoebe_adapter import PhoebeLightCurve, blackbody_binary, import_phoebe

phoebe = pytest.importorskip("phoebe")

FACTORY = functools.partial(blackbody_binary, ntriangles=300)
TWIGS = ["incl@binary", "requiv@secondary"]
X = np.array([85.0, 0.97])
# Over one period (t0@system = 0, the default reference time), both eclipses included.
TIMES = np.linspace(0.0, 1.0, 21)


@pytest.fixture(scope="module")
def model():
    return PhoebeLightCurve(FACTORY, TWIGS)


@pytest.fixture(scope="module")
def full_fluxes(model):
    return model(X, TIMES)


def test_parameters_read_from_the_bundle(model):
    assert model.parameter_names == tuple(TWIGS)
    assert model.defaults == {"incl@binary": 90.0, "requiv@secondary": 1.0}
    assert model.units == {"incl@binary": "deg", "requiv@secondary": "solRad"}
    assert model.reference_time == 0.0
    assert (model.dataset, model.compute) == ("lc01", "phoebe01")
    assert import_phoebe().mpi.mode == "serial mode"


def test_flux_equals_phoebe_run_compute(model, full_fluxes):
    """The same bits as PHOEBE's own run_compute, after the model computed elsewhere."""
    model(np.array([88.0, 1.02]), TIMES[3:9])  # the bundle's history must not matter
    b = FACTORY()
    b.set_value("incl@binary", X[0])
    b.set_value("requiv@secondary", X[1])
    b.set_value("compute_times", dataset="lc01", value=TIMES)
    b.run_compute(model="reference", progressbar=False)
    expected = b.get_value("fluxes", dataset="lc01", model="reference", context="model")
    assert model(X, TIMES).tobytes() == full_fluxes.tobytes()
    assert full_fluxes.tobytes() == np.asarray(expected, dtype=float).tobytes()
    # and the eclipses are there: the model responds to the fitted parameters
    assert full_fluxes.min() < 0.8 * full_fluxes.max()
    assert not np.array_equal(model(np.array([87.0, 0.97]), TIMES[:3]), full_fluxes[:3])


def test_rejected_point_raises_or_gives_inf(model):
    """A point PHOEBE rejects: an error naming the values, or +inf fluxes if asked."""
    with pytest.raises(ValueError, match=r"(?s)PHOEBE rejected incl@binary = 85\.0, "
                                         r"requiv@secondary = 5\.0.*overflowing"):
        model([85.0, 5.0], TIMES[:2])  # the secondary overflows its Roche lobe
    lenient = PhoebeLightCurve(FACTORY, TWIGS, invalid="inf")
    assert np.all(lenient([85.0, 5.0], TIMES[:2]) == np.inf)
    assert np.all(lenient([190.0, 1.0], TIMES[:2]) == np.inf)  # beyond incl's limits
    assert lenient(X, TIMES[:2]).tobytes() == model(X, TIMES[:2]).tobytes()


@pytest.mark.parametrize(("lo", "hi"), [(0, 1), (1, 2), (4, 11), (10, 21), (20, 21)])
def test_chunks_bitwise_equal_to_the_whole(model, full_fluxes, lo, hi):
    """mpicg's contract: a chunk's fluxes are the whole computation's, bit for bit.

    PHOEBE builds the meshes at the first time it computes; the model computes
    reference_time first in every call, which is what makes this hold (see the module doc).
    """
    assert model(X, TIMES[lo:hi]).tobytes() == full_fluxes[lo:hi].tobytes()


def test_any_order_and_repeats(model, full_fluxes):
    idx = np.array([7, 2, 2, 20, 0, 11])
    assert model(X, TIMES[idx]).tobytes() == full_fluxes[idx].tobytes()
    assert model(X, np.empty(0)).shape == (0,)


def test_time_before_reference_time_is_an_error(model):
    with pytest.raises(InputError, match="precedes `reference_time`"):
        model(X, np.array([-0.1, 0.2]))


def test_pickles_without_its_bundle(model, full_fluxes):
    data = pickle.dumps(model)
    assert len(data) < 2000  # the factory by reference, never the bundle
    copy = pickle.loads(data)
    assert copy._bundle is None  # built lazily, on the copy's first call
    assert copy.parameters == model.parameters
    assert copy(X, TIMES[8:12]).tobytes() == full_fluxes[8:12].tobytes()
    assert copy._bundle is not None


def test_unpicklable_factory_named():
    model = PhoebeLightCurve(lambda: FACTORY(), TWIGS)
    with pytest.raises(TypeError, match="module-level function"):
        pickle.dumps(model)


@pytest.mark.parametrize(("twig", "match"), [
    ("nosuchparam@binary", r"unknown twig 'nosuchparam@binary'"),
    ("requiv", r"ambiguous twig 'requiv'.*requiv@primary.*requiv@secondary"),
    ("incl@primary", r"twig 'incl@primary' .* constrained"),
    ("ld_func@primary", r"twig 'ld_func@primary' .* ChoiceParameter"),
])
def test_bad_twig_named(twig, match):
    with pytest.raises(InputError, match=match):
        PhoebeLightCurve(FACTORY, ["incl@binary", twig])


def test_wrong_number_of_values(model):
    with pytest.raises(InputError, match="2 values"):
        model([85.0], TIMES[:2])


def test_import_mpicg_does_not_import_phoebe():
    code = ("import sys, mpicg, mpicg.models, mpicg.models.phoebe_adapter; "
            "assert 'phoebe' not in sys.modules, 'phoebe imported'")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_import_under_mpirun_one_rank():
    """A plain `import phoebe` raises under `mpirun -n 1`; import_phoebe must not."""
    code = ("from mpicg.models.phoebe_adapter import import_phoebe; "
            "print('MODE', import_phoebe().mpi.mode)")
    job = run_mpi(1, ["-c", code], timeout=90)
    assert not job.timed_out, job.output
    assert job.returncode == 0, job.output
    assert "MODE serial mode" in job.output


def _fit_script():
    spec = importlib.util.spec_from_file_location("phoebe_fit", SCRIPTS / "phoebe_fit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fit_under_mpirun_equals_serial():
    job = run_script(2, "phoebe_fit.py", timeout=240)
    assert not job.timed_out, f"timed out after {job.seconds:.0f} s:\n{job.output}"
    assert job.returncode == 0, job.output
    # PHOEBE ran serially in both ranks (its own MPI off, mpirun's environment not seen).
    assert job.output.count("phoebe mpi mode: serial mode") == 2, job.output
    # mpirun merges the ranks' output; another rank's line may share rank 0's (once seen).
    found = re.search(r"RESULT (\{[^{}]*\})", job.output)
    assert found, job.output
    got = json.loads(found.group(1))
    assert got["n_ranks"] == 2

    script = _fit_script()
    res = script.run_fit(script.make_problem())  # the same fit, serially, in this process
    assert got["x"] == [float(v).hex() for v in res.x]  # bit for bit
    assert got["fun"] == float(res.fun).hex()
    assert (got["nit"], got["nfev"], got["status"]) == (res.nit, res.nfev, res.status)
    assert res.nit == 2  # it iterated: the fit moved from x0 towards the truth
    assert abs(res.x[0] - script.TRUTH[0]) < abs(script.X0[0] - script.TRUTH[0])


def test_ephemeris_from_the_bundle_and_from_fitted_twigs(model):
    values = dict(model.defaults)
    assert model.ephemeris(values) == (1.0, 0.0)  # default_binary: period 1 d, t0_supconj 0
    fitting_both = PhoebeLightCurve(FACTORY, ["period@binary", "t0_supconj@binary"])
    assert fitting_both.ephemeris({"period@binary": 2.5, "t0_supconj@binary": 0.3}) == \
        (2.5, 0.3)
