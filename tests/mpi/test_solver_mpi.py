"""Named fits under MPI: the same solution as serial, on every rank; errors reported by rank 0."""

import numpy as np
import pytest
from mpi4py import MPI

import mpicg
from mpicg.errors import is_copy
from mpicg.models import TransitModel
from mpicg.priors import Gaussian, Uniform

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
MODEL = TransitModel(period=3.0, resolution=6)


def data():
    one = np.linspace(-0.2, 0.2, 151)
    t = np.concatenate([one, one + 3.0])
    flux = MODEL(np.array([0.0, 0.1, 10.0, 88.5]), t)
    flux = flux + np.random.default_rng(5).normal(0, 3e-4, t.size)
    return t, flux, np.full(t.size, 3e-4)


T, F, S = data()
OPTIONS = {"fit_parameters": ["rp", "inc"], "initial_values": {"rp": 0.09, "inc": 88.0},
           "gtol": 1.0}


@pytest.mark.mpi(min_size=1)
@pytest.mark.parametrize("combine", ["and", "or", "first"])
def test_named_fit_with_priors_same_as_serial(combine):
    priors = [("rp", Gaussian(0.1, 0.01)), ("rp", Uniform(0.05, 0.15)),
              ("inc", Gaussian(88.0, 2.0))]
    par = mpicg.optimizer_cg(MODEL, T, F, S, priors=priors, priors_combine=combine,
                             expose_lnprobabilities=True, **OPTIONS)
    ser = mpicg.optimizer_cg(MODEL, T, F, S, priors=priors, priors_combine=combine,
                             expose_lnprobabilities=True, comm=MPI.COMM_SELF, **OPTIONS)
    assert par.fitted_values == ser.fitted_values
    assert (par.nit, par.nfev, par.fun) == (ser.nit, ser.nfev, ser.fun)
    assert par.lnprobabilities == ser.lnprobabilities
    assert par.n_ranks == comm.Get_size()
    assert len(set(comm.allgather(repr(par.fitted_values)))) == 1


@pytest.mark.mpi(min_size=1)
def test_continue_from_a_saved_solution(tmp_path_factory):
    first = mpicg.optimizer_cg(MODEL, T, F, S, maxiter=2, **OPTIONS)
    path = None
    if rank == 0:
        path = first.save(tmp_path_factory.mktemp("sol") / "solution.json")
    path = comm.bcast(path, root=0)
    assert mpicg.load_solution(path) == first
    again = mpicg.optimizer_cg(MODEL, T, F, S, continue_from=path, gtol=1.0)
    assert again.initial_values == first.fitted_values
    assert again.success


@pytest.mark.mpi(min_size=1)
@pytest.mark.parametrize(("kwargs", "match"), [
    ({"fit_parameters": ["rp", "bogus"]}, "bogus"),
    ({"priors": {"rp": Uniform(0.2, 0.3)}}, "start value 0.09 of parameter 'rp'"),
    ({"steps": {"rp": -1.0}}, r"> 0; got -1.0"),
])
def test_bad_input_raised_on_every_rank_reported_by_rank0(kwargs, match):
    options = dict(OPTIONS, **kwargs)
    with pytest.raises(mpicg.InputError, match=match) as info:
        mpicg.optimizer_cg(MODEL, T, F, S, **options)
    assert is_copy(info.value) == (rank != 0)
    # nothing was left half-done: the next collective fit works
    assert mpicg.optimizer_cg(MODEL, T, F, S, maxiter=1, **OPTIONS).nit == 1
