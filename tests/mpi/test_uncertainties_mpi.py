"""Scaled named fits and their uncertainties under MPI: the serial bits on every rank count."""

import sys
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

import mpicg
from mpicg.models import BatmanTransit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _linear import START, Polynomial, data, exact

comm = MPI.COMM_WORLD
NAMES = ["c0", "c1", "c2"]
T, F, S = data()


@pytest.mark.mpi(min_size=1)
def test_linear_covariance_under_mpi_is_the_serial_one_and_the_least_squares_one():
    # Acceptance: covariance = (X^T W X)^-1 within 1 %, with the same bits for any number
    # of ranks (the scales' probes and the Hessian's points are shared out like gradients).
    options = {"fit_parameters": NAMES, "initial_values": START, "gtol": 1e-4}
    par = mpicg.optimizer_cg(Polynomial(), T, F, S, block_size=47, **options)
    ser = mpicg.optimizer_cg(Polynomial(), T, F, S, block_size=47, comm=MPI.COMM_SELF,
                             **options)
    assert par.n_ranks == comm.Get_size()
    assert par.covariance.tobytes() == ser.covariance.tobytes()
    assert par.x.tobytes() == ser.x.tobytes()
    assert par.scales == ser.scales
    assert par.diagnosis == ser.diagnosis
    assert (par.nfev, par.nfev_scales, par.nfev_uncertainties) == (
        ser.nfev, ser.nfev_scales, ser.nfev_uncertainties)
    _, covariance = exact(T, F, S)
    norm = np.sqrt(np.outer(np.diag(covariance), np.diag(covariance)))
    assert np.max(np.abs(par.covariance - covariance) / norm) < 0.01
    assert len(set(comm.allgather(par.covariance.tobytes()))) == 1


@pytest.mark.mpi(min_size=1)
def test_a_not_converged_fit_says_the_same_on_every_rank():
    model = BatmanTransit()
    t = np.linspace(-0.1, 0.1, 200)
    flux = 1.0 + 1e-3 * (np.abs(t) < 0.05) + np.random.default_rng(0).normal(0, 1e-3, t.size)
    sol = mpicg.optimizer_cg(model, t, flux, np.full(t.size, 1e-3), fit_parameters=["rp"],
                             initial_values={"rp": 0.05})
    assert not sol.converged
    assert sol.diagnosis.parameters == ["rp"]
    assert len(set(comm.allgather(str(sol.diagnosis)))) == 1


@pytest.mark.mpi(min_size=1)
def test_named_fit_warnings_come_from_rank0_only(recwarn):
    # Every rank sets the fit up alike, and each printed the same warnings.
    mpicg.optimizer_cg(Polynomial(), T, F, S, fit_parameters=["c0", "c1"],
                       initial_values=dict(START, c2=0.5), maxiter=2)
    said = [str(w.message) for w in recwarn if "is ignored" in str(w.message)]
    expected = ["initial_values['c2'] is ignored: 'c2' is not fitted"]
    assert said == (expected if comm.Get_rank() == 0 else [])


@pytest.mark.mpi(min_size=1)
def test_a_fit_of_its_own_on_each_rank_warns_on_each(recwarn):
    # With comm=MPI.COMM_SELF every rank is rank 0 of its own fit: its warnings were
    # dropped on all but the launch's rank 0.
    mpicg.optimizer_cg(Polynomial(), T, F, S, fit_parameters=["c0", "c1"],
                       initial_values=dict(START, c2=0.5), maxiter=2, comm=MPI.COMM_SELF)
    said = [str(w.message) for w in recwarn if "is ignored" in str(w.message)]
    assert said == ["initial_values['c2'] is ignored: 'c2' is not fitted"]


@pytest.mark.mpi(min_size=2)
def test_fit_parameters_in_another_order_on_one_rank_are_named_as_such():
    # The message blamed `x0`, which the named fit computes (the user never gave one).
    names = NAMES if comm.Get_rank() != comm.Get_size() - 1 else NAMES[::-1]
    with pytest.raises(mpicg.InputError, match=r"`fit_parameters` on this rank "
                                               r"\(\['c2', 'c1', 'c0'\]\) differs from rank "
                                               r"0's \(\['c0', 'c1', 'c2'\]\)"):
        mpicg.optimizer_cg(Polynomial(), T, F, S, fit_parameters=names,
                           initial_values=START, maxiter=2)
