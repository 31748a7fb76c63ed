"""Prior distributions (mpicg.priors) against scipy.stats, by integration, and round trips."""

import itertools
import json
import math
import pickle

import numpy as np
import pytest
from scipy import integrate, special, stats

from mpicg.errors import InputError
from mpicg.priors import (
    PRIORS_COMBINE,
    Combined,
    Distribution,
    Gaussian,
    LogUniform,
    Priors,
    TruncatedGaussian,
    Uniform,
    combine,
    distribution_from_dict,
)

# ---------------------------------------------------------------------------------------------
# helpers


def _points(low, high, center, scale):
    """Points inside, on the edges of, just outside and far outside [low, high]."""
    pts = list(center + scale * np.array([-50.0, -7.0, -3.0, -1.0, -0.3, 0.0, 0.2, 1.5, 4.0,
                                          45.0]))
    for edge in (low, high):
        if math.isfinite(edge):
            pts += [edge, math.nextafter(edge, -math.inf), math.nextafter(edge, math.inf)]
    if math.isfinite(low) and math.isfinite(high):
        pts += list(np.linspace(low, high, 13))
    return np.array(pts)


def _assert_logpdf_matches(dist, ref_logpdf, points):
    ours = np.array([dist.logpdf(float(x)) for x in points])
    ref = ref_logpdf(points)
    assert not np.any(np.isnan(ours))
    inside = np.isfinite(ref)
    np.testing.assert_array_equal(np.isfinite(ours), inside)  # -inf exactly where scipy has 0
    np.testing.assert_allclose(ours[inside], ref[inside], rtol=1e-12, atol=1e-12)
    assert np.all(ours[~inside] == -math.inf)
    # contains agrees with a finite density
    np.testing.assert_array_equal([dist.contains(float(x)) for x in points], inside)


def _integral(dist, breaks=()):
    """The integral of exp(logpdf) over the support (split at ``breaks``)."""
    low, high = dist.support
    f = lambda x: math.exp(dist.logpdf(x))  # noqa: E731
    if math.isinf(low) or math.isinf(high):
        total = 0.0
        edges = sorted(breaks)
        if not edges:
            return integrate.quad(f, low, high, epsabs=1e-13, epsrel=1e-12)[0]
        total += integrate.quad(f, low, edges[0], epsabs=1e-13, epsrel=1e-12)[0]
        for a, b in itertools.pairwise(edges):
            total += integrate.quad(f, a, b, epsabs=1e-13, epsrel=1e-12, limit=200)[0]
        total += integrate.quad(f, edges[-1], high, epsabs=1e-13, epsrel=1e-12)[0]
        return total
    inner = [b for b in breaks if low < b < high]
    return integrate.quad(f, low, high, points=inner or None, epsabs=1e-13, epsrel=1e-12,
                          limit=200)[0]


# ---------------------------------------------------------------------------------------------
# each kind against scipy.stats


@pytest.mark.parametrize(("mu", "sigma"), [(0.0, 1.0), (-3.5, 0.01), (1e4, 250.0), (2.0, 1e-6)])
def test_gaussian_logpdf_matches_scipy(mu, sigma):
    dist = Gaussian(mu, sigma)
    points = _points(-math.inf, math.inf, mu, sigma)
    _assert_logpdf_matches(dist, lambda x: stats.norm.logpdf(x, mu, sigma), points)
    assert dist.support == (-math.inf, math.inf)


@pytest.mark.parametrize(("low", "high"), [(0.0, 1.0), (-5.0, -2.5), (1e-3, 1e5), (7.0, 7.5)])
def test_uniform_logpdf_matches_scipy(low, high):
    dist = Uniform(low, high)
    points = _points(low, high, 0.5 * (low + high), high - low)
    _assert_logpdf_matches(dist, lambda x: stats.uniform.logpdf(x, low, high - low), points)
    assert dist.support == (low, high)


@pytest.mark.parametrize(("low", "high"), [(1.0, 10.0), (1e-6, 1e3), (0.5, 0.75), (3.0, 1e8)])
def test_log_uniform_logpdf_matches_scipy(low, high):
    dist = LogUniform(low, high)
    points = _points(low, high, 0.5 * (low + high), high - low)
    points = np.concatenate([points, np.geomspace(low, high, 11), [-1.0, 0.0]])
    _assert_logpdf_matches(dist, lambda x: stats.loguniform.logpdf(x, low, high), points)
    assert dist.support == (low, high)


@pytest.mark.parametrize(("mu", "sigma", "low", "high"), [
    (0.0, 1.0, -1.0, 1.0),       # straddles the mean
    (0.0, 1.0, -0.2, 3.0),
    (5.0, 2.0, 6.0, 20.0),       # upper tail
    (5.0, 2.0, -20.0, 4.0),      # lower tail
    (0.0, 1.0, 3.0, 4.0),
    (0.0, 1.0, -8.0, -6.0),
    (10.0, 0.1, 9.0, 10.0),      # ends at the mean
    (0.0, 1.0, 2.0, 2.5),
])
def test_truncated_gaussian_logpdf_matches_scipy(mu, sigma, low, high):
    dist = TruncatedGaussian(mu, sigma, low, high)
    a, b = (low - mu) / sigma, (high - mu) / sigma
    points = _points(low, high, mu, sigma)
    _assert_logpdf_matches(dist, lambda x: stats.truncnorm.logpdf(x, a, b, mu, sigma), points)
    assert dist.support == (low, high)


def _reference_log_mass(a, b):
    """log(Phi(b) - Phi(a)) for 0 <= a < b by quadrature of the density scaled by phi(a)."""
    value = integrate.quad(lambda x: math.exp(-(x - a) * (x + a) / 2), a, b, epsabs=0,
                           epsrel=1e-13, limit=200)[0]
    return -0.5 * a * a - 0.5 * math.log(2 * math.pi) + math.log(value)


@pytest.mark.parametrize(("low", "high"), [
    (30.0, 40.0),                # far tail: Phi(b) - Phi(a) underflows nowhere, Q(30) ~ 5e-198
    (37.0, 38.0),                # tail probability near the double's underflow
    (100.0, 101.0),              # beyond it: Q(100) ~ 1e-2174
    (1000.0, 1000.5),
    (29.9, 30.1),                # across the switch from erfc to the asymptotic series
    (30.0, 30.000001),           # narrow and far out
    (0.1, 0.1 + 1e-10),          # narrow near the mean
    (5.0, 5.0001),
])
def test_truncated_gaussian_far_tails_and_narrow_intervals(low, high):
    dist = TruncatedGaussian(0.0, 1.0, low, high)
    log_mass = _reference_log_mass(low, high)
    for x in (low, 0.5 * (low + high), high):
        value = dist.logpdf(x)
        assert math.isfinite(value)
        expected = -0.5 * x * x - 0.5 * math.log(2 * math.pi) - log_mass
        assert value == pytest.approx(expected, rel=1e-12, abs=1e-9)
    # mirrored into the lower tail, and shifted/scaled
    mirrored = TruncatedGaussian(0.0, 1.0, -high, -low)
    assert mirrored.logpdf(-low) == pytest.approx(dist.logpdf(low), rel=1e-12, abs=1e-9)
    # scaled by a power of two, so the bounds stay exact (a shift would round them, which
    # for the narrow intervals changes the mass more than the tolerance)
    scaled = TruncatedGaussian(0.0, 0.25, 0.25 * low, 0.25 * high)
    assert scaled.logpdf(0.25 * low) == pytest.approx(dist.logpdf(low) + math.log(4.0),
                                                      rel=1e-12, abs=1e-9)


def test_truncated_gaussian_far_tail_matches_log_ndtr_and_normalises():
    dist = TruncatedGaussian(0.0, 1.0, 30.0, 40.0)
    log_mass = special.log_ndtr(-30.0)  # Q(40)/Q(30) ~ 1e-150 is negligible
    assert dist.logpdf(30.0) == pytest.approx(stats.norm.logpdf(30.0) - log_mass, rel=1e-13)
    assert dist.logpdf(40.0) == pytest.approx(stats.norm.logpdf(40.0) - log_mass, rel=1e-13)
    assert _integral(dist, breaks=(30.5, 31.0, 32.0)) == pytest.approx(1.0, abs=1e-9)


# ---------------------------------------------------------------------------------------------
# normalisation


NORMALISED = [
    (Gaussian(0.0, 1.0), ()),
    (Gaussian(-4.0, 0.3), (-4.0,)),
    (Uniform(-1.0, 2.0), ()),
    (LogUniform(1e-3, 10.0), (1e-2, 0.1, 1.0)),
    (TruncatedGaussian(0.0, 1.0, -0.5, 2.0), ()),
    (TruncatedGaussian(2.0, 0.5, 3.0, 6.0), ()),
    (Combined((Uniform(0.0, 1.0), Uniform(3.0, 5.0)), "or"), (1.0, 3.0)),
    (Combined((Gaussian(0.0, 1.0), Uniform(-1.0, 4.0), LogUniform(0.5, 2.0)), "or"),
     (-1.0, 0.5, 2.0, 4.0)),
    (Combined((Gaussian(-10.0, 0.5), Gaussian(10.0, 2.0)), "or"), (-10.0, 0.0, 10.0)),
    (Combined((TruncatedGaussian(0.0, 1.0, 0.0, 3.0), Uniform(-2.0, -1.0)), "or"),
     (-1.0, 0.0)),
    (Combined((Uniform(0.0, 2.0), Gaussian(0.0, 1.0)), "first"), ()),
    (Combined((Combined((Uniform(0.0, 1.0), Uniform(2.0, 3.0)), "or"), Uniform(5.0, 6.0)),
              "or"), (1.0, 2.0, 3.0, 5.0)),
]


@pytest.mark.parametrize(("dist", "breaks"), NORMALISED, ids=lambda v: repr(v)[:60])
def test_normalised(dist, breaks):
    assert _integral(dist, breaks) == pytest.approx(1.0, abs=1e-9)


def test_and_is_not_normalised():
    # Documented: 'and' multiplies densities without renormalising.
    # The product of N(0, 1) and N(0, 1) integrates to 1/(2 sqrt(pi)).
    dist = Combined((Gaussian(0.0, 1.0), Gaussian(0.0, 1.0)), "and")
    assert _integral(dist) == pytest.approx(1.0 / (2.0 * math.sqrt(math.pi)), rel=1e-9)


# ---------------------------------------------------------------------------------------------
# combinations


AND_CASES = [
    ((Gaussian(1.0, 2.0), Uniform(0.0, 3.0)), (0.0, 3.0)),
    ((Uniform(-1.0, 2.0), Uniform(0.5, 5.0)), (0.5, 2.0)),
    ((LogUniform(0.1, 10.0), TruncatedGaussian(1.0, 1.0, -2.0, 3.0), Gaussian(2.0, 1.0)),
     (0.1, 3.0)),
    ((Gaussian(0.0, 1.0), Gaussian(3.0, 0.5)), (-math.inf, math.inf)),
]


@pytest.mark.parametrize(("parts", "support"), AND_CASES)
def test_and_sums_logpdfs_on_the_intersection(parts, support):
    dist = combine(list(parts), "and")
    assert isinstance(dist, Combined)
    assert dist.support == support
    for x in [*np.linspace(-4.0, 6.0, 41).tolist(), *support, -math.inf, math.nan]:
        expected = sum(p.logpdf(x) for p in parts)
        value = dist.logpdf(x)
        assert not math.isnan(value)
        if math.isfinite(expected):
            assert value == pytest.approx(expected, rel=1e-14, abs=1e-14)
            assert dist.contains(x)
        else:
            assert value == -math.inf
            assert not dist.contains(x)


def test_first_takes_the_first_and_keeps_the_rest():
    parts = (Uniform(0.0, 2.0), Gaussian(5.0, 1.0), LogUniform(1.0, 3.0))
    dist = combine(parts, "first")
    assert dist.parts == parts
    assert dist.support == (0.0, 2.0)
    for x in (-1.0, 0.0, 1.0, 2.0, 2.5, 5.0):
        assert dist.logpdf(x) == parts[0].logpdf(x)
        assert dist.contains(x) == parts[0].contains(x)


def test_or_with_disjoint_supports():
    left, right = Uniform(0.0, 1.0), TruncatedGaussian(5.0, 1.0, 4.0, 6.0)
    dist = combine([left, right], "or")
    assert dist.support == (0.0, 6.0)  # the hull
    for x in (0.0, 0.3, 1.0):
        assert dist.logpdf(x) == pytest.approx(left.logpdf(x) - math.log(2.0), rel=1e-14)
        assert dist.contains(x)
    for x in (4.0, 5.5, 6.0):
        assert dist.logpdf(x) == pytest.approx(right.logpdf(x) - math.log(2.0), rel=1e-14)
    for x in (1.5, 3.9, -0.1, 6.1, math.nan):  # the gap and outside
        assert dist.logpdf(x) == -math.inf
        assert not dist.contains(x)


def test_or_where_every_density_underflows_stays_finite():
    # Halfway between two narrow Gaussians each density is exp(-125000): zero as a double.
    a, b = Gaussian(0.0, 1.0), Gaussian(1000.0, 1.0)
    dist = combine([a, b], "or")
    value = dist.logpdf(500.0)
    assert math.isfinite(value)
    # equal densities, so the mean is either one
    assert value == pytest.approx(a.logpdf(500.0), rel=1e-15)


def test_or_mixes_overlapping_densities():
    parts = [Gaussian(0.0, 1.0), Uniform(-1.0, 1.0), Gaussian(0.5, 2.0)]
    dist = combine(parts, "or")
    for x in np.linspace(-3.0, 3.0, 25):
        expected = math.log(np.mean([math.exp(p.logpdf(x)) for p in parts]))
        assert dist.logpdf(x) == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("how", PRIORS_COMBINE)
def test_combine_of_one_is_the_distribution(how):
    g = Gaussian(1.0, 2.0)
    assert combine(g, how) is g
    assert combine([g], how) is g
    assert Combined((g,), how).logpdf(0.3) == g.logpdf(0.3)


# ---------------------------------------------------------------------------------------------
# round trips


ALL_KINDS = [
    Gaussian(0.1, 3.0),
    Uniform(-2.0, 1e-3),
    LogUniform(1e-7, 0.3),
    TruncatedGaussian(1.0 / 3.0, 0.7, -0.1, 2.2),
    Combined((Gaussian(0.0, 1.0), Uniform(-1.0, 1.0)), "and"),
    Combined((Uniform(0.0, 1.0), Combined((Gaussian(5.0, 1.0), LogUniform(2.0, 3.0)), "first")),
             "or"),
]


@pytest.mark.parametrize("dist", ALL_KINDS, ids=lambda d: type(d).__name__)
def test_dict_json_pickle_round_trips(dist):
    d = dist.to_dict()
    assert "kind" in d
    text = json.dumps(d, allow_nan=False)  # strictly JSON-safe: no Infinity or NaN
    back = distribution_from_dict(json.loads(text))
    assert back == dist
    assert type(back) is type(dist)
    assert back.to_dict() == d
    unpickled = pickle.loads(pickle.dumps(dist))
    assert unpickled == dist
    for x in (-0.5, 0.0, 0.5, 2.5):
        assert back.logpdf(x) == dist.logpdf(x)
        assert unpickled.logpdf(x) == dist.logpdf(x)


def test_arguments_are_stored_as_floats():
    dist = TruncatedGaussian(np.float32(1), 2, np.int64(0), 5)
    assert all(type(v) is float for v in (dist.mu, dist.sigma, dist.low, dist.high))
    assert json.loads(json.dumps(dist.to_dict())) == dist.to_dict()


@pytest.mark.parametrize("how", PRIORS_COMBINE)
def test_priors_round_trip(how):
    priors = Priors([("incl", Uniform(80.0, 90.0)), ("rp", LogUniform(0.01, 0.5)),
                     ("incl", Gaussian(87.0, 1.0))], priors_combine=how)
    d = json.loads(json.dumps(priors.to_dict(), allow_nan=False))
    back = Priors.from_dict(d)
    assert back == priors
    assert back.priors_combine == how
    assert back.names == ("incl", "rp")
    assert back.parts("incl") == (Uniform(80.0, 90.0), Gaussian(87.0, 1.0))
    values = {"incl": 86.5, "rp": 0.1}
    assert back.log_prior(values) == priors.log_prior(values)
    assert pickle.loads(pickle.dumps(priors)) == priors


# ---------------------------------------------------------------------------------------------
# bad input: InputError naming the argument and the value


BAD_ARGUMENTS = [
    (Gaussian, (0.0, 0.0), "sigma", 0.0),
    (Gaussian, (0.0, -1.0), "sigma", -1.0),
    (Gaussian, (math.nan, 1.0), "mu", math.nan),
    (Gaussian, (math.inf, 1.0), "mu", math.inf),
    (Gaussian, (0.0, True), "sigma", True),
    (Gaussian, ("1", 1.0), "mu", "1"),
    (Gaussian, (0.0, None), "sigma", None),
    (Uniform, (1.0, 1.0), "low", 1.0),
    (Uniform, (2.0, 1.0), "low", 2.0),
    (Uniform, (0.0, math.inf), "high", math.inf),
    (Uniform, (-math.inf, 0.0), "low", -math.inf),
    (Uniform, (-1e308, 1e308), "high", 1e308),
    (LogUniform, (0.0, 1.0), "low", 0.0),
    (LogUniform, (-1.0, 1.0), "low", -1.0),
    (LogUniform, (2.0, 1.0), "low", 2.0),
    (LogUniform, (1.0, math.nan), "high", math.nan),
    (TruncatedGaussian, (0.0, 0.0, -1.0, 1.0), "sigma", 0.0),
    (TruncatedGaussian, (0.0, -2.0, -1.0, 1.0), "sigma", -2.0),
    (TruncatedGaussian, (0.0, 1.0, 1.0, -1.0), "low", 1.0),
    (TruncatedGaussian, (0.0, 1.0, -math.inf, 1.0), "low", -math.inf),
    (TruncatedGaussian, (0.0, 1.0, 1e200, 1e201), "low", 1e200),
    (TruncatedGaussian, ([0.0], 1.0, 0.0, 1.0), "mu", [0.0]),
    (Combined, ((Gaussian(0.0, 1.0),), "xor"), "priors_combine", "xor"),
    (Combined, ((Gaussian(0.0, 1.0),), None), "priors_combine", None),
    (Combined, ((), "and"), "parts", ()),
    (Combined, (Gaussian(0.0, 1.0), "and"), "parts", Gaussian(0.0, 1.0)),
    (Combined, ((Gaussian(0.0, 1.0), 3.0), "or"), "parts[1]", 3.0),
    (combine, ([Gaussian(0.0, 1.0)], "AND"), "priors_combine", "AND"),
    (combine, ([Gaussian(0.0, 1.0)], ""), "priors_combine", ""),
    (combine, ([], "or"), "parts", []),
    (combine, (["gaussian"], "and"), "parts[0]", "gaussian"),
]


@pytest.mark.parametrize(("func", "args", "name", "value"), BAD_ARGUMENTS,
                         ids=[f"{f.__name__}-{n}-{v!r}" for f, _, n, v in BAD_ARGUMENTS])
def test_bad_arguments_raise_input_error_naming_them(func, args, name, value):
    with pytest.raises(InputError) as info:
        func(*args)
    message = str(info.value)
    assert f"`{name}`" in message
    assert repr(value) in message
    assert isinstance(info.value, ValueError)


def test_and_of_disjoint_supports_is_an_error():
    with pytest.raises(InputError, match=r"`priors_combine`='and'.*\(0\.0, 1\.0\).*\(2\.0, 3"):
        combine([Uniform(0.0, 1.0), Uniform(2.0, 3.0)], "and")
    with pytest.raises(InputError, match="do not overlap"):  # touching at a point only
        combine([Uniform(0.0, 1.0), Uniform(1.0, 3.0)], "and")
    # 'or' and 'first' of the same are fine
    assert combine([Uniform(0.0, 1.0), Uniform(2.0, 3.0)], "or").contains(2.5)
    assert not combine([Uniform(0.0, 1.0), Uniform(2.0, 3.0)], "first").contains(2.5)


BAD_DICTS = [
    ([1, 2], "[1, 2]"),
    ({"mu": 0.0, "sigma": 1.0}, "`kind`"),
    ({"kind": "cauchy", "x0": 0.0}, "'cauchy'"),
    ({"kind": "gaussian", "mu": 0.0}, "missing ['sigma']"),
    ({"kind": "gaussian", "mu": 0.0, "sigma": 1.0, "width": 2}, "unexpected ['width']"),
    ({"kind": "gaussian", "mu": 0.0, "sigma": -1.0}, "`sigma` of Gaussian must be > 0; got -1.0"),
    ({"kind": "combined", "how": "and", "parts": "gaussian"}, "`parts`"),
    ({"kind": "combined", "how": "nor", "parts": [{"kind": "uniform", "low": 0, "high": 1}]},
     "'nor'"),
    ({"kind": "combined", "how": "or", "parts": [{"kind": "uniform", "low": 1, "high": 0}]},
     "low=1.0, high=0.0"),
]


@pytest.mark.parametrize(("d", "needle"), BAD_DICTS)
def test_bad_distribution_dicts(d, needle):
    with pytest.raises(InputError) as info:
        distribution_from_dict(d)
    assert needle in str(info.value)


BAD_PRIORS = [
    (({"x": Gaussian(0.0, 1.0)}, "sum"), "`priors_combine`", "'sum'"),
    (({"x": 3.0},), "'x'", "3.0"),
    (({"x": []},), "'x'", "empty list"),
    (({"x": [Gaussian(0.0, 1.0), "uniform"]},), "'x'", "'uniform'"),
    (({"": Gaussian(0.0, 1.0)},), "`priors`", "''"),
    (({3: Gaussian(0.0, 1.0)},), "`priors`", "3"),
    (([("x", Gaussian(0.0, 1.0), 2.0)],), "`priors`", "2.0"),
    (([Gaussian(0.0, 1.0)],), "`priors`", "Gaussian(mu=0.0, sigma=1.0)"),
    (("x",), "`priors`", "'x'"),
    ((5,), "`priors`", "5"),
    (([("x", Uniform(0.0, 1.0)), ("x", Uniform(2.0, 3.0))],), "parameter 'x'",
     "do not overlap"),
]


@pytest.mark.parametrize(("args", "name", "value"), BAD_PRIORS)
def test_bad_priors_raise_input_error(args, name, value):
    with pytest.raises(InputError) as info:
        Priors(*args)
    assert name in str(info.value)
    assert value in str(info.value)


@pytest.mark.parametrize("d", [
    {"priors": {}},
    {"priors_combine": "and", "priors": {}, "extra": 1},
    {"priors_combine": "and", "priors": [["x", {"kind": "gaussian", "mu": 0, "sigma": 1}]]},
    {"priors_combine": "and", "priors": {"x": {"kind": "gaussian", "mu": 0, "sigma": 1}}},
    {"priors_combine": "or!", "priors": {}},
])
def test_bad_priors_dicts(d):
    with pytest.raises(InputError, match="priors"):
        Priors.from_dict(d)


# ---------------------------------------------------------------------------------------------
# Priors


def test_priors_from_dict_and_from_list_agree():
    from_dict = Priors({"incl": [Uniform(80.0, 90.0), Gaussian(87.0, 1.0)],
                        "rp": LogUniform(0.01, 0.5)})
    from_list = Priors([("incl", Uniform(80.0, 90.0)), ("rp", LogUniform(0.01, 0.5)),
                        ("incl", Gaussian(87.0, 1.0))])
    assert from_dict == from_list
    assert from_list.priors_combine == "and"  # PHOEBE's default
    assert from_list.names == ("incl", "rp")
    assert len(from_list) == 2
    assert "incl" in from_list
    assert "a" not in from_list
    assert from_list.distribution("rp") == LogUniform(0.01, 0.5)  # one stays itself
    assert from_list.distribution("incl") == Combined(
        (Uniform(80.0, 90.0), Gaussian(87.0, 1.0)), "and")


@pytest.mark.parametrize("how", PRIORS_COMBINE)
def test_priors_repeated_names_combine_in_order(how):
    parts = [Gaussian(1.0, 1.0), Uniform(-2.0, 2.0), TruncatedGaussian(0.0, 1.0, -1.0, 3.0)]
    priors = Priors([("x", parts[0]), ("y", Uniform(0.0, 1.0)), ("x", parts[1]),
                     ("x", parts[2])], priors_combine=how)
    assert priors.parts("x") == tuple(parts)
    assert priors.distribution("x") == combine(parts, how)
    for x in (-1.5, 0.0, 1.9, 2.5):
        expected = combine(parts, how).logpdf(x) + Uniform(0.0, 1.0).logpdf(0.5)
        assert priors.log_prior({"x": x, "y": 0.5}) == pytest.approx(expected, rel=1e-14)


def test_empty_priors():
    for priors in (Priors(), Priors({}), Priors([]), Priors(None, priors_combine="or")):
        assert priors.names == ()
        assert len(priors) == 0
        assert priors.log_prior({}) == 0.0
        assert priors.log_prior({"a": 1.0}) == 0.0
        priors.check_names(["a"])
        priors.check_start({})
        assert Priors.from_dict(json.loads(json.dumps(priors.to_dict()))) == priors


def test_log_prior_sums_and_ignores_parameters_without_priors():
    priors = Priors({"a": Gaussian(0.0, 2.0), "b": Uniform(0.0, 4.0)})
    values = {"a": 1.0, "b": 3.0, "c": 1e300}
    expected = stats.norm.logpdf(1.0, 0.0, 2.0) - math.log(4.0)
    assert priors.log_prior(values) == pytest.approx(expected, rel=1e-14)
    assert priors.log_prior({"a": np.float64(1.0), "b": 3}) == pytest.approx(expected,
                                                                             rel=1e-14)


@pytest.mark.parametrize("values", [{"a": 1.0, "b": 4.5}, {"a": 1.0, "b": -1e-12},
                                    {"a": math.nan, "b": 1.0}, {"a": math.inf, "b": 1.0}])
def test_log_prior_is_minus_inf_outside(values):
    priors = Priors({"a": Gaussian(0.0, 2.0), "b": Uniform(0.0, 4.0)})
    assert priors.log_prior(values) == -math.inf


def test_log_prior_needs_every_parameter_with_a_prior():
    priors = Priors({"a": Gaussian(0.0, 2.0), "b": Uniform(0.0, 4.0)})
    with pytest.raises(InputError, match=r"no value for parameter 'b'.*\['a'\]"):
        priors.log_prior({"a": 1.0})
    with pytest.raises(InputError, match=r"'b'.*'x'"):
        priors.log_prior({"a": 1.0, "b": "x"})


def test_distribution_of_a_name_without_prior():
    priors = Priors({"a": Gaussian(0.0, 2.0)})
    with pytest.raises(InputError, match=r"no prior on parameter 'z'.*\['a'\]"):
        priors.distribution("z")


def test_check_names():
    priors = Priors({"incl": Uniform(80.0, 90.0), "xyz": Gaussian(0.0, 1.0)})
    priors.check_names(["incl", "xyz", "rp"])  # no error
    with pytest.raises(InputError) as info:
        priors.check_names(("incl", "rp"))
    assert str(info.value) == ("prior on parameter 'xyz' which the model does not have; "
                               "it has ['incl', 'rp']")
    with pytest.raises(InputError, match=r"parameters \['incl', 'xyz'\].*\['rp'\]"):
        priors.check_names(["rp"])


@pytest.mark.parametrize(("prior", "inside", "start", "support"), [
    (Uniform(0.0, 1.0), 1.0, 1.5, "[0.0, 1.0]"),
    (LogUniform(1.0, 10.0), 1.0, 0.5, "[1.0, 10.0]"),
    (TruncatedGaussian(0.0, 1.0, -1.0, 2.0), -1.0, -3.0, "[-1.0, 2.0]"),
    (Gaussian(0.0, 1.0), 40.0, math.inf, "[-inf, inf]"),
    (Uniform(0.0, 1.0), 0.0, math.nan, "[0.0, 1.0]"),
    (Combined((Uniform(0.0, 1.0), Uniform(2.0, 3.0)), "or"), 2.0, 1.5, "[0.0, 3.0]"),  # a gap
])
def test_check_start_outside_support(prior, inside, start, support):
    priors = Priors({"rp": Gaussian(0.1, 0.01), "p": prior})
    priors.check_start({"rp": 0.1, "p": inside})  # no error
    with pytest.raises(InputError) as info:
        priors.check_start({"rp": 0.1, "p": start})
    message = str(info.value)
    assert "'p'" in message
    assert repr(start) in message
    assert support in message


def test_check_start_needs_every_parameter_with_a_prior():
    priors = Priors({"rp": Gaussian(0.1, 0.01)})
    with pytest.raises(InputError, match="start has no value for parameter 'rp'"):
        priors.check_start({"incl": 87.0})


def test_distributions_are_frozen_and_hashable():
    g = Gaussian(0.0, 1.0)
    with pytest.raises(AttributeError):
        g.mu = 1.0  # type: ignore[misc]
    assert len({g, Gaussian(0.0, 1.0), Combined((g,), "or")}) == 2
    assert isinstance(g, Distribution)
    assert LogUniform(1.0, 2.0) == LogUniform(1, 2)  # the cached normalisation is no field
