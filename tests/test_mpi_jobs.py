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
