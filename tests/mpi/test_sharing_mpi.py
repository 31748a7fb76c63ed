"""Sharing under MPI: every sharing and every layout, rebalanced every round, gives the serial
bits (started under mpirun -n 1..4 by tests/test_mpi_jobs.py)."""

import numpy as np
import pytest
from mpi4py import MPI

import mpicg
from mpicg.parallel import Layout, balance
from mpicg.parallel.layout import BLOCKS, CELLS

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()

X0 = np.array([0.015, 4.9, 0.35, 0.0])


def transit_like(x, t):
    depth, t0, width, slope = x
    return 1.0 - depth * np.exp(-0.5 * ((t - t0) / width) ** 2) + slope * np.sin(t)


def make_problem(n_times=1003, block_size=None):
    rng = np.random.default_rng(11)
    t = rng.uniform(0, 10, n_times)
    flux = transit_like(np.array([0.02, 5.0, 0.3, 0.001]), t) + rng.normal(0, 1e-3, n_times)
    return mpicg.Problem(transit_like, t, flux, np.full(n_times, 1e-3), block_size=block_size)


def assert_same_bits(par, ser):
    assert par.x.tobytes() == ser.x.tobytes()
    assert float(par.fun).hex() == float(ser.fun).hex()
    assert (par.nit, par.nfev, par.njev, par.status) == (ser.nit, ser.nfev, ser.njev,
                                                         ser.status)
    assert len(set(comm.allgather(par.x.tobytes() + float(par.fun).hex().encode()))) == 1


@pytest.mark.mpi(min_size=1)
@pytest.mark.parametrize("sharing", ["auto", "blocks", "points"])
@pytest.mark.parametrize("block_size", [None, 37])
def test_every_sharing_gives_the_serial_bits(sharing, block_size):
    problem = make_problem(block_size=block_size)
    par = mpicg.fit(problem, X0, maxiter=12, sharing=sharing)
    ser = mpicg.fit(problem, X0, maxiter=12, comm=MPI.COMM_SELF)
    assert_same_bits(par, ser)
    assert par.nit > 3
    assert par.sharing == sharing
    assert par.imbalance_before >= 1.0
    assert par.imbalance_after >= 1.0
    report = (par.imbalance_before, par.imbalance_after, par.rebalances)
    assert len(set(comm.allgather(report))) == 1
    if sharing != "auto":
        assert par.rebalances == 0


def forced(shape: str, seed: int):
    """A layout function for rank 0's sharing: a different layout in every round."""
    rng = np.random.default_rng(seed)

    def layout(self, m):
        B, n = self.n_blocks, self.n_ranks
        if shape == "whole-points":
            cuts = np.sort(rng.integers(0, m + 1, n - 1)) * B
            kind = CELLS
        elif shape == "block-ranges":
            cuts, kind = np.sort(rng.integers(0, B + 1, n - 1)), BLOCKS
        elif shape == "rectangles":  # runs that start and end inside points
            cuts = np.sort(rng.integers(0, m * B + 1, n - 1))
            cuts = np.where(cuts % B == 0, np.minimum(cuts + 1, m * B), cuts)
            kind = CELLS
        else:
            kind = CELLS if rng.uniform() < 0.5 else BLOCKS
            cuts = np.sort(rng.integers(0, (m * B if kind == CELLS else B) + 1, n - 1))
        end = m * B if kind == CELLS else B
        self.rebalances += 1
        return Layout(kind, m, B, np.concatenate([[0], cuts, [end]]))

    return layout


@pytest.mark.mpi(min_size=1)
@pytest.mark.parametrize("shape", ["whole-points", "block-ranges", "rectangles", "mixed"])
def test_a_new_layout_every_round_gives_the_serial_bits(monkeypatch, shape):
    monkeypatch.setattr(balance.MeasuredSharing, "layout", forced(shape, seed=5))
    problem = make_problem(block_size=11)
    par = mpicg.fit(problem, X0, maxiter=10, jac="3-point")
    ser = mpicg.fit(problem, X0, maxiter=10, jac="3-point", comm=MPI.COMM_SELF)
    assert_same_bits(par, ser)
    if size > 1:
        assert par.rebalances == par.rounds  # every round had its own layout


@pytest.mark.mpi(min_size=1)
def test_batches_larger_than_the_first_message():
    # 8 parameters with central differences: batches of 17 x 8 numbers, more than a first
    # message holds; the message grows after the first such batch.
    def cosines(x, t):
        return 1.0 + sum(x[k] * np.cos((k + 1) * t) for k in range(8)) * 1e-2

    rng = np.random.default_rng(2)
    t = np.sort(rng.uniform(0, 6, 400))
    truth = rng.normal(0, 1, 8)
    problem = mpicg.Problem(cosines, t, cosines(truth, t) + rng.normal(0, 1e-3, t.size),
                            np.full(t.size, 1e-3))
    par = mpicg.fit(problem, np.zeros(8), maxiter=5, jac="3-point")
    ser = mpicg.fit(problem, np.zeros(8), maxiter=5, jac="3-point", comm=MPI.COMM_SELF)
    assert_same_bits(par, ser)


@pytest.mark.mpi(min_size=1)
@pytest.mark.parametrize("sharing", ["auto", "blocks"])
def test_fewer_cells_than_ranks(sharing):
    problem = make_problem(n_times=6, block_size=3)  # 2 blocks: some ranks get nothing
    par = mpicg.fit(problem, X0, maxiter=3, sharing=sharing)
    ser = mpicg.fit(problem, X0, maxiter=3, comm=MPI.COMM_SELF)
    assert_same_bits(par, ser)


@pytest.mark.mpi(min_size=1)
def test_named_fit_reports_balance():
    from mpicg.models import TransitModel

    model = TransitModel(period=3.0, resolution=6)
    t = np.linspace(-0.2, 0.2, 301)
    flux = model(np.array([0.0, 0.1, 10.0, 88.5]), t)
    sol = mpicg.optimizer_cg(model, t, flux, np.full(t.size, 3e-4), fit_parameters=["rp"],
                             initial_values={"rp": 0.09}, gtol=1.0, sharing="points")
    assert sol.balance["sharing"] == "points"
    assert sol.balance["imbalance_before"] >= 1.0
    assert len(set(comm.allgather(repr(sol.balance)))) == 1


@pytest.mark.mpi(min_size=1)
def test_a_round_cut_short_on_rank0_leaves_nothing_behind(monkeypatch):
    """Rank 0 fails after posting a round's receives, before its message went out."""
    from mpicg.parallel.channel import Channel

    sent = []
    original = Channel.send

    def failing(self, header, body=None, deadline=None):
        if body is not None:
            sent.append(1)
            if len(sent) == 3:
                raise KeyError("rank 0 failed mid-round")
        return original(self, header, body, deadline)

    monkeypatch.setattr(Channel, "send", failing)
    problem = make_problem(block_size=37)
    if size > 1:  # (the other ranks raise a copy of rank 0's error)
        with pytest.raises(KeyError, match="mid-round"):
            mpicg.fit(problem, X0, maxiter=10)
    monkeypatch.setattr(Channel, "send", original)
    # No receive of the failed round is left to take the next fit's sums.
    par = mpicg.fit(problem, X0, maxiter=8)
    ser = mpicg.fit(problem, X0, maxiter=8, comm=MPI.COMM_SELF)
    assert_same_bits(par, ser)
