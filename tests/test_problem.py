"""Problem: data checks, sorting, blocks, and the chi-square it computes."""

import itertools

import numpy as np
import pytest

import mpicg
from mpicg.parallel import BlockWork, SerialEvaluator
from mpicg.parallel.blocks import DEFAULT_MAX_BLOCKS, block_edges, block_ranges, sum_blocks


def line(x, t):
    return x[0] + x[1] * t


def make(n=50, **kw):
    t = np.linspace(0.0, 1.0, n)
    return mpicg.Problem(line, t, 2.0 + 3.0 * t, np.full(n, 0.1), **kw)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"flux": np.ones(49)}, r"same length; got 50, 49 and 50"),
    ({"sigma": np.r_[np.full(49, 0.1), 0.0]}, r"`sigma` must be > 0; sigma\[49\] = 0.0"),
    ({"sigma": np.r_[-1.0, np.full(49, 0.1)]}, r"sigma\[0\] = -1.0"),
    ({"flux": np.r_[np.nan, np.ones(49)]}, r"`flux` must be finite; flux\[0\] = nan"),
    ({"times": np.r_[np.inf, np.linspace(0, 1, 49)]}, r"`times` must be finite"),
    ({"times": np.ones((50, 1))}, r"`times` must be 1-D; got an array of shape \(50, 1\)"),
    ({"flux": ["a"] * 50}, r"`flux` must be a 1-D array of real numbers"),
    ({"times": [], "flux": [], "sigma": []}, r"at least one observation"),
    ({"block_size": 0}, r"`block_size` must be an integer >= 1; got 0"),
])
def test_bad_data_named(kwargs, match):
    data = {"times": np.linspace(0, 1, 50), "flux": np.ones(50), "sigma": np.full(50, 0.1)}
    data.update(kwargs)
    block_size = data.pop("block_size", None)
    with pytest.raises(mpicg.InputError, match=match):
        mpicg.Problem(line, **data, block_size=block_size)


def test_model_must_be_callable():
    with pytest.raises(TypeError, match=r"`model` must be callable; got 3"):
        mpicg.Problem(3, [0.0], [1.0], [1.0])


def test_unsorted_times_are_sorted_with_their_data():
    t = np.array([3.0, 1.0, 2.0])
    p = mpicg.Problem(line, t, [30.0, 10.0, 20.0], [3.0, 1.0, 2.0])
    assert p.times.tolist() == [1.0, 2.0, 3.0]
    assert p.flux.tolist() == [10.0, 20.0, 30.0]
    assert p.sigma.tolist() == [1.0, 2.0, 3.0]


def test_chi_square_value():
    p = make()
    x = np.array([2.5, 3.0])  # residual -0.5 everywhere, sigma 0.1: 25 per point
    value = SerialEvaluator(BlockWork(p)).evaluate(x[None, :])
    assert value[0] == pytest.approx(0.5 * 25.0 * 50)


@pytest.mark.parametrize(("returned", "named"), [
    (np.ones(3), r"ndarray of shape \(3,\) and dtype float64"),
    ("flux", "str 'flux'"),
    (np.ones((50, 2)), r"ndarray of shape \(50, 2\)"),
    (None, "NoneType None"),  # (once said "ndarray of shape ()": numpy's wrapping of it)
])
def test_model_of_wrong_shape_or_type_is_named(returned, named):
    p = mpicg.Problem(lambda x, t: returned, np.linspace(0, 1, 50), np.ones(50),
                      np.full(50, 0.1))
    with pytest.raises(mpicg.InputError,
                       match=r"`model` must return a real array of shape .*it returned " + named):
        SerialEvaluator(BlockWork(p)).evaluate(np.zeros((1, 2)))


def test_fit_recovers_a_line():
    res = mpicg.fit(make(), [0.0, 0.0], gtol=1e-3)
    assert res.success
    np.testing.assert_allclose(res.x, [2.0, 3.0], rtol=1e-6)
    assert res.n_ranks == 1
    assert res.rank_rounds == [res.rounds]


@pytest.mark.parametrize(("n", "size", "expected"), [
    (1, None, 1), (10, 3, 3), (1003, 37, 37),
    (41, None, 1), (5000, None, 20), (5120, None, 20),  # 256 blocks, as always: same bits
    (5121, None, 20), (20_000, None, 20), (81_920, None, 20),  # blocks of 20: more blocks
    (81_921, None, 21), (300_001, None, 74),  # at most 4096 blocks
])
def test_block_edges(n, size, expected):
    e = block_edges(n, size)
    assert e[0] == 0
    assert e[-1] == n
    assert np.all(np.diff(e) > 0)
    assert np.all(np.diff(e)[:-1] == expected)
    if size is None:
        assert len(e) - 1 <= DEFAULT_MAX_BLOCKS
        assert len(e) - 1 >= min(n, 128)  # ceil(n / 256) observations per block at most


@pytest.mark.parametrize(("n_blocks", "n_ranks"), [(10, 3), (2, 4), (256, 7), (5, 5)])
def test_block_ranges_cover_everything_contiguously(n_blocks, n_ranks):
    ranges = block_ranges(n_blocks, n_ranks)
    assert len(ranges) == n_ranks
    assert ranges[0][0] == 0
    assert ranges[-1][1] == n_blocks
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    sizes = [last - first for first, last in ranges]
    assert max(sizes) - min(sizes) <= 1


def test_block_sums_independent_of_split():
    """The per-block sums, hence the total, do not depend on how blocks are shared."""
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 1, 1003))
    p = mpicg.Problem(lambda x, tt: np.sin(x[0] * tt) + x[1], t, rng.normal(size=1003),
                      rng.uniform(0.5, 1.5, 1003), block_size=37)
    points = rng.normal(size=(5, 2))
    whole = p.block_sums(points, 0, p.n_blocks)
    for n_ranks in (2, 3, 4, 7):
        parts = [p.restrict(a, b).block_sums(points, a, b)
                 for a, b in block_ranges(p.n_blocks, n_ranks)]
        assert np.hstack(parts).tobytes() == whole.tobytes()
    totals = sum_blocks(whole)
    assert totals.tobytes() == np.array([sum_blocks(row[None, :])[0] for row in whole]).tobytes()


def test_restrict_keeps_only_its_blocks():
    p = make(n=100, block_size=10)
    part = p.restrict(3, 5)
    assert (part.first_item, part.last_item) == (30, 50)
    assert part.times.size == 20
    assert part.times.base is None  # a copy: the full arrays can be freed
