"""The eclipsing-binary model: agreement with batman, analytic cases, the per-time contract."""

import itertools
import pickle

import numpy as np
import pytest

from mpicg.models.eclipsing_binary import EclipsingBinary
from mpicg.models.kepler import solve_kepler
from mpicg.models.occultation import eclipsed_fraction

NAMES = EclipsingBinary.parameters


def values(**kw):
    """The default parameter vector with some entries replaced by name."""
    v = {p.name: p.default for p in NAMES}
    unknown = set(kw) - set(v)
    assert not unknown, unknown
    v.update(kw)
    return np.array([v[p.name] for p in NAMES])


def batman_flux(t, *, t0, per, rp, a, inc, ecc, w, u, law):
    batman = pytest.importorskip("batman")
    p = batman.TransitParams()
    p.t0, p.per, p.rp, p.a, p.inc, p.ecc, p.w = t0, per, rp, a, inc, ecc, w
    p.u = list(u)
    p.limb_dark = law
    return batman.TransitModel(p, np.ascontiguousarray(t, dtype=float)).light_curve(p)


# (rp, a, impact parameter b at conjunction, ecc, omega, law, u)
GEOMETRIES = {
    "central": (0.1, 10.0, 0.0, 0.0, 90.0, "quadratic", (0.4, 0.25)),
    "b0.5_rp0.05": (0.05, 10.0, 0.5, 0.0, 90.0, "quadratic", (0.4, 0.25)),
    "b0.5_rp0.15": (0.15, 8.0, 0.5, 0.0, 90.0, "quadratic", (0.3, 0.3)),
    "grazing_b=1-rp": (0.15, 8.0, 0.85, 0.0, 90.0, "quadratic", (0.5, 0.1)),
    "grazing_b=1": (0.1, 12.0, 1.0, 0.0, 90.0, "quadratic", (0.4, 0.25)),
    "ecc0.3_w0": (0.1, 10.0, 0.5, 0.3, 0.0, "quadratic", (0.4, 0.25)),
    "ecc0.3_w60": (0.1, 10.0, 0.5, 0.3, 60.0, "quadratic", (0.4, 0.25)),
    "ecc0.3_w135": (0.08, 15.0, 0.3, 0.3, 135.0, "quadratic", (0.4, 0.25)),
    "ecc0.3_w200": (0.1, 10.0, 0.2, 0.3, 200.0, "quadratic", (0.4, 0.25)),
    "ecc0.3_w300": (0.12, 9.0, 0.7, 0.3, 300.0, "quadratic", (0.2, 0.4)),
    "linear": (0.12, 12.0, 0.4, 0.0, 90.0, "linear", (0.6,)),
    "linear_ecc": (0.07, 11.0, 0.6, 0.3, 250.0, "linear", (0.5,)),
}


@pytest.mark.parametrize("name", list(GEOMETRIES))
def test_dark_secondary_agrees_with_batman(name):
    """Acceptance: sbratio = 0 is a planetary transit; batman's within 1e-5 at every time."""
    rp, a, b, ecc, w, law, u = GEOMETRIES[name]
    per, t0 = 3.0, 1234.5
    # b is the sky separation at conjunction, where r = a (1 - e^2) / (1 + e sin w)
    r_conj = a * (1 - ecc**2) / (1 + ecc * np.sin(np.radians(w)))
    inc = float(np.degrees(np.arccos(b / r_conj)))
    # the whole orbit, coarsely, and the transit densely
    t = np.sort(np.concatenate([t0 + np.linspace(-per / 2, per / 2, 3001),
                                t0 + np.linspace(-0.25, 0.25, 12001)]))
    uu = (u[0], u[1] if law == "quadratic" else 0.77)  # u2 must be ignored for linear
    model = EclipsingBinary(ld_law=law)
    v = values(period=per, t0=t0, ecc=ecc, omega=w, incl=inc, r1=1 / a, r2=rp / a, sbratio=0.0,
               ld1_u1=uu[0], ld1_u2=uu[1], ld2_u1=0.9, ld2_u2=-0.3)
    ours = model(v, t)
    ref = batman_flux(t, t0=t0, per=per, rp=rp, a=a, inc=inc, ecc=ecc, w=w, u=u, law=law)
    assert np.sum(ref < 1) > 100  # the comparison covers a transit
    assert np.max(np.abs(ours - ref)) < 1e-5
    assert np.array_equal(ours == 1.0, ref == 1.0)  # same contacts, to the sample


def test_each_time_independent_of_the_others_bitwise():
    """mpicg splits times over ranks: a time's flux must not depend on its neighbours."""
    model = EclipsingBinary(resolution=16)
    v = values(ecc=0.2, omega=70.0, incl=87.0, r1=0.12, r2=0.09, sbratio=0.6)
    rng = np.random.default_rng(7)
    t = np.sort(np.concatenate([rng.uniform(-2, 5, 1500), rng.uniform(-0.1, 0.1, 800)]))
    whole = model(v, t)
    assert np.sum(whole < 1) > 500
    for lo, hi in [(0, 1), (3, 4), (5, 300), (299, 2300), (31, 33), (64, 65), (1000, 1017),
                   (0, 2300)]:
        assert model(v, t[lo:hi]).tobytes() == whole[lo:hi].tobytes()
    for i in rng.integers(0, t.size, 25):
        assert model(v, t[i:i + 1]).tobytes() == whole[i:i + 1].tobytes()


def test_out_of_eclipse_flux_is_exactly_one():
    model = EclipsingBinary()
    v = values(ecc=0.1, omega=30.0, incl=88.0, r1=0.1, r2=0.07, sbratio=0.8)
    t = np.linspace(-3.0, 3.0, 20001)
    flux = model(v, t)
    sep, _ = model.sky_positions(v, t)
    apart = sep > 0.1 + 0.07
    assert apart.sum() > 10000
    assert (~apart).sum() > 500
    assert np.all(flux[apart] == 1.0)
    assert np.all(flux[~apart] < 1.0)
    assert np.all(flux >= 0.0)


def test_uniform_discs_total_and_annular_depths_are_area_times_intensity():
    """u = 0, central eclipses: annular depth = area ratio x L1 share; total = L2 share."""
    r1, r2, s = 0.1, 0.04, 0.3
    model = EclipsingBinary()
    v = values(period=2.0, t0=0.0, ecc=0.0, incl=90.0, r1=r1, r2=r2, sbratio=s,
               ld1_u1=0.0, ld1_u2=0.0, ld2_u1=0.0, ld2_u2=0.0)
    total = r1**2 + s * r2**2  # pi x (uniform) surface brightness x area, pi dropped
    flux = model(v, np.array([0.0, 1.0]))
    assert flux[0] == pytest.approx(1 - (r2 / r1) ** 2 * r1**2 / total, abs=1e-14)
    assert flux[1] == pytest.approx(1 - s * r2**2 / total, abs=1e-14)


def test_total_eclipse_depth_is_the_light_share_whatever_the_limb_darkening():
    """sbratio is the disc-averaged surface-brightness ratio: L2/L1 = sbratio (r2/r1)^2."""
    r1, r2, s = 0.1, 0.05, 0.4
    model = EclipsingBinary()
    v = values(period=2.0, t0=0.0, incl=90.0, r1=r1, r2=r2, sbratio=s,
               ld1_u1=0.6, ld1_u2=0.1, ld2_u1=0.2, ld2_u2=0.5)
    share2 = s * r2**2 / (r1**2 + s * r2**2)
    assert model(v, np.array([1.0]))[0] == pytest.approx(1 - share2, abs=1e-14)


@pytest.mark.parametrize("k", [0.05, 0.3, 0.9])
def test_concentric_limb_darkened_depth_is_analytic(k):
    """z = 0: the hidden fraction is the closed-form integral of I(mu) over r < k."""
    u1, u2 = 0.45, 0.2
    mu = np.sqrt(1 - k * k)
    c0, c1, c2 = 1 - u1 - u2, u1 + 2 * u2, -u2
    inside = c0 * (1 - mu**2) + 2 / 3 * c1 * (1 - mu**3) + c2 / 2 * (1 - mu**4)
    expected = inside / (1 - u1 / 3 - u2 / 6)
    assert eclipsed_fraction(0.0, k, u1, u2) == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize(("z", "k"), [(0.5, 0.2), (1.05, 0.1), (0.3, 0.9), (0.8, 1.5),
                                      (1.9, 1.2), (0.95, 0.05)])
def test_uniform_partial_overlap_is_the_lens_area(z, k):
    """u = 0: the hidden fraction is the area of the two discs' overlap over pi."""
    d1 = (z * z + 1 - k * k) / (2 * z)  # distance from the eclipsed star's centre to the chord
    d2 = z - d1
    lens = (np.arccos(np.clip(d1, -1, 1)) - d1 * np.sqrt(max(1 - d1 * d1, 0))
            + k * k * np.arccos(np.clip(d2 / k, -1, 1)) - d2 * np.sqrt(max(k * k - d2 * d2, 0)))
    if z + 1 <= k:
        lens = np.pi
    elif z + k <= 1:
        lens = np.pi * k * k
    assert eclipsed_fraction(z, k, 0.0, 0.0) == pytest.approx(lens / np.pi, abs=1e-10)


def test_hidden_fraction_limits():
    z = np.array([0.0, 0.2, 0.5, 2.0, 3.0, 1.1 + 1e-12])
    f = eclipsed_fraction(z, np.array([1.5, 1.3, 0.3, 0.9, 1.0, 0.1]), 0.4, 0.25)
    assert f[0] == 1.0  # total eclipses
    assert f[1] == 1.0
    assert 0 < f[2] < 1
    assert f[3] == 0.0  # apart, or just touching
    assert f[4] == 0.0
    assert f[5] == 0.0


def test_swapping_the_stars_gives_the_same_light_curve():
    """Star 1 <-> star 2 with omega + 180 deg, t0 at the other conjunction: same flux."""
    per, ecc, w = 2.5, 0.25, 40.0
    # the other conjunction: f = 270 deg - omega
    f = np.radians(270.0 - w)
    big_e = 2 * np.arctan2(np.sqrt(1 - ecc) * np.sin(f / 2), np.sqrt(1 + ecc) * np.cos(f / 2))
    f0 = np.radians(90.0 - w)
    e0 = 2 * np.arctan2(np.sqrt(1 - ecc) * np.sin(f0 / 2), np.sqrt(1 + ecc) * np.cos(f0 / 2))
    dt = ((big_e - ecc * np.sin(big_e)) - (e0 - ecc * np.sin(e0))) / (2 * np.pi) * per
    model = EclipsingBinary()
    t = np.linspace(-1.3, 1.3, 4001)
    a = values(period=per, t0=0.0, ecc=ecc, omega=w, incl=86.0, r1=0.11, r2=0.07, sbratio=0.5,
               ld1_u1=0.5, ld1_u2=0.2, ld2_u1=0.3, ld2_u2=0.1)
    b = values(period=per, t0=dt, ecc=ecc, omega=w + 180.0, incl=86.0, r1=0.07, r2=0.11,
               sbratio=2.0, ld1_u1=0.3, ld1_u2=0.1, ld2_u1=0.5, ld2_u2=0.2)
    fa, fb = model(a, t), model(b, t)
    assert np.sum(fa < 1) > 200
    assert np.sum(fa < 0.999) > 100
    np.testing.assert_allclose(fb, fa, rtol=0, atol=1e-12)


@pytest.mark.parametrize("ecc", [0.0, 0.1, 0.5, 0.9, 0.99, 0.999])
def test_kepler_solver_satisfies_keplers_equation(ecc):
    m = np.concatenate([np.linspace(-10.0, 10.0, 20001), np.geomspace(1e-12, 1e-1, 200),
                        -np.geomspace(1e-12, 1e-1, 200), [0.0, np.pi, -np.pi]])
    e_anom = solve_kepler(m, ecc)
    m_reduced = np.mod(m + np.pi, 2 * np.pi) - np.pi
    assert np.max(np.abs(e_anom - ecc * np.sin(e_anom) - m_reduced)) < 1e-14
    # per element: solving one at a time gives the same bits
    for i in [0, 137, 10000, 20001, 20300]:
        assert solve_kepler(m[i:i + 1], ecc).tobytes() == e_anom[i:i + 1].tobytes()


def test_kepler_solver_rejects_unbound_orbits():
    with pytest.raises(ValueError, match="ecc"):
        solve_kepler(np.zeros(3), 1.0)


def test_accuracy_improves_with_resolution():
    """More quadrature nodes cost more per time and bring the flux closer to the limit."""
    v = values(ecc=0.1, omega=20.0, incl=87.5, r1=0.1, r2=0.09, sbratio=0.7)
    t = np.linspace(-0.12, 0.12, 2001)
    ref = EclipsingBinary(resolution=200)(v, t)
    errors = [np.max(np.abs(EclipsingBinary(resolution=n)(v, t) - ref)) for n in (2, 4, 8, 16)]
    assert all(b < a for a, b in itertools.pairwise(errors))
    assert errors[-1] < 1e-7  # the default resolution, for near-equal stars


def test_linear_law_ignores_u2_and_pickles():
    model = EclipsingBinary(ld_law="linear", resolution=12)
    t = np.linspace(-0.2, 0.2, 301)
    f1 = model(values(ld1_u2=0.0, ld2_u2=0.0), t)
    f2 = model(values(ld1_u2=0.5, ld2_u2=-0.2), t)
    assert f1.tobytes() == f2.tobytes()
    clone = pickle.loads(pickle.dumps(model))
    assert clone == model
    assert clone(values(), t).tobytes() == f1.tobytes()


def test_parameter_names_and_flux_shape():
    model = EclipsingBinary()
    assert model.parameter_names == ("period", "t0", "ecc", "omega", "incl", "r1", "r2",
                                     "sbratio", "ld1_u1", "ld1_u2", "ld2_u1", "ld2_u2")
    t = np.linspace(-0.1, 0.1, 12).reshape(3, 4)
    assert model(values(), t).shape == (3, 4)
    assert model(values(), np.array([])).shape == (0,)


@pytest.mark.parametrize(("kwargs", "match"), [({"ld_law": "cubic"}, "ld_law"),
                                               ({"resolution": 0}, "resolution"),
                                               ({"resolution": 2.5}, "resolution"),
                                               ({"resolution": True}, "resolution")])
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EclipsingBinary(**kwargs)


@pytest.mark.parametrize(("kw", "match"), [({"period": 0.0}, "period"), ({"ecc": 1.0}, "ecc"),
                                           ({"ecc": -0.1}, "ecc"), ({"r1": 0.0}, "r1"),
                                           ({"r2": -0.1}, "r2"), ({"sbratio": -1.0}, "sbratio")])
def test_bad_values(kw, match):
    with pytest.raises(ValueError, match=match):
        EclipsingBinary()(values(**kw), np.zeros(3))


def test_eclipsed_fraction_rejects_bad_resolution():
    with pytest.raises(ValueError, match="resolution"):
        eclipsed_fraction(0.5, 0.1, 0.4, 0.2, resolution=0)


def test_wrong_number_of_values():
    with pytest.raises(ValueError, match="values"):
        EclipsingBinary()(np.zeros(5), np.zeros(3))
