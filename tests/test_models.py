"""The built-in transit model: physics sanity and the per-time contract mpicg relies on."""

import numpy as np
import pytest

from mpicg.models import TransitModel

X = np.array([0.0, 0.1, 8.0, 89.0])


def test_flux_is_one_out_of_transit_and_dips_in_transit():
    m = TransitModel(period=3.0, resolution=16)
    t = np.array([-1.0, 0.0, 1.0, 1.5])
    f = m(X, t)
    assert f[0] == 1.0
    assert f[2] == 1.0
    assert f[3] == 1.0  # secondary eclipse phase: a dark planet blocks nothing
    # central depth ~ rp^2 * I(centre) / mean intensity; I(centre) = 1, mean = 1-u1/3-u2/6
    expected = 0.1**2 / (1 - 0.4 / 3 - 0.25 / 6)
    assert f[1] == pytest.approx(1 - expected, abs=2e-4)


def test_uniform_disc_depth_is_rp_squared():
    m = TransitModel(period=3.0, u1=0.0, u2=0.0, resolution=30)
    f = m(np.array([0.0, 0.1, 8.0, 90.0]), np.array([0.0]))
    assert f[0] == pytest.approx(1 - 0.01, rel=1e-12)


def test_each_time_independent_of_the_others_bitwise():
    """mpicg splits times over ranks: a time's flux must not depend on its neighbours."""
    m = TransitModel(period=3.0, resolution=10)
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(-0.2, 0.2, 700))
    whole = m(X, t)
    for lo, hi in [(0, 1), (5, 300), (299, 700), (31, 33), (64, 65)]:
        assert m(X, t[lo:hi]).tobytes() == whole[lo:hi].tobytes()


def test_flux_continuous_in_the_parameters():
    m = TransitModel(period=3.0, resolution=12)
    t = np.linspace(-0.12, 0.12, 400)
    base = m(X, t)
    nudged = m(X + np.array([0.0, 1e-9, 0.0, 0.0]), t)
    assert np.max(np.abs(nudged - base)) < 1e-8


@pytest.mark.parametrize(("kwargs", "match"), [({"period": 0.0}, "period"),
                                               ({"resolution": 0}, "resolution")])
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TransitModel(**kwargs)
