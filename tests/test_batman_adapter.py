"""The batman adapter: same numbers as batman, the per-time contract, pickling, lazy import."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

from mpicg.models.batman_adapter import BatmanTransit

batman = pytest.importorskip("batman")

X = np.array([0.3, 2.7, 0.11, 9.0, 88.7, 0.2, 75.0, 0.35, 0.2])


def direct(x, t):
    p = batman.TransitParams()
    p.t0, p.per, p.rp, p.a, p.inc, p.ecc, p.w, u1, u2 = (float(v) for v in x)
    p.u = [u1, u2]
    p.limb_dark = "quadratic"
    return batman.TransitModel(p, t).light_curve(p)


def test_parameter_names():
    assert BatmanTransit().parameter_names == ("t0", "per", "rp", "a", "inc", "ecc", "w",
                                               "u1", "u2")


def test_matches_batman_called_directly():
    t = np.linspace(-1.0, 2.0, 5001)
    ours = BatmanTransit()(X, t)
    assert np.sum(ours < 1) > 100
    assert ours.tobytes() == direct(X, t).tobytes()


def test_each_time_independent_of_the_others_bitwise():
    model = BatmanTransit()
    rng = np.random.default_rng(11)
    t = np.sort(np.concatenate([rng.uniform(-1, 2, 500), rng.uniform(0.2, 0.4, 700)]))
    whole = model(X, t)
    assert np.sum(whole < 1) > 300
    for lo, hi in [(0, 1), (5, 300), (299, 1200), (31, 33), (64, 65), (700, 701)]:
        assert model(X, t[lo:hi]).tobytes() == whole[lo:hi].tobytes()


def test_picklable():
    model = BatmanTransit()
    clone = pickle.loads(pickle.dumps(model))
    assert clone == model
    t = np.linspace(0.2, 0.4, 50)
    assert clone(X, t).tobytes() == model(X, t).tobytes()


def test_shape_and_bad_values():
    model = BatmanTransit()
    assert model(X, np.linspace(0.2, 0.4, 6).reshape(2, 3)).shape == (2, 3)
    assert model(X, np.array([])).shape == (0,)
    with pytest.raises(ValueError, match="values"):
        model(X[:4], np.zeros(3))


def test_importing_mpicg_does_not_import_batman():
    code = ("import sys, mpicg, mpicg.models, mpicg.models.batman_adapter; "
            "assert 'batman' not in sys.modules, 'batman imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
