"""Run the in-MPI test suite (tests/mpi/) under mpirun -n 1..4, each job under a timeout."""

import pytest
from _mpirun import run_mpi


@pytest.mark.parametrize("n_ranks", [1, 2, 3, 4])
def test_mpi_suite(n_ranks):
    job = run_mpi(n_ranks, ["-m", "pytest", "--with-mpi", "-q", "-p", "no:cacheprovider",
                            "tests/mpi"], timeout=240)
    assert not job.timed_out, f"mpirun -n {n_ranks} hung:\n{job.output[-3000:]}"
    assert job.returncode == 0, job.output[-6000:]
    assert " passed" in job.output, job.output[-3000:]
    assert " failed" not in job.output, job.output[-3000:]


@pytest.mark.parametrize("n_ranks", [2, 3])
def test_rounds_import_no_module(n_ranks):
    """No rank imports a module during the rounds (it would stall every rank)."""
    job = run_mpi(n_ranks, ["tests/mpi_scripts/rounds_import_nothing.py"], timeout=120)
    assert not job.timed_out, job.output[-3000:]
    assert job.returncode == 0, job.output[-3000:]
    rounds = int(job.output.split("ROUNDS ")[1].split()[0])
    assert rounds > 12  # past the learning rounds, the probe and a re-plan
    assert f"IMPORTED {[[]] * n_ranks}" in job.output, job.output[-3000:]
