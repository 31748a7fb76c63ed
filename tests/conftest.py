"""Shared test set-up: MPI tests in tests/mpi/ run only inside an MPI job (``--with-mpi``).

The normal ``pytest`` run starts those jobs itself (tests/test_mpi_jobs.py), under
``mpirun -n 1..4`` with a timeout each, so a plain ``pytest`` tests everything.
"""

from pathlib import Path

import pytest
from _jobs import N_TIMES, mpicg

from mpicg.cli.demo import write_demo_job

MPI_DIR = Path(__file__).parent / "mpi"


def pytest_ignore_collect(collection_path, config):
    """Collect tests/mpi/ only when pytest runs inside an MPI job (``--with-mpi``)."""
    inside_mpi_dir = collection_path == MPI_DIR or MPI_DIR in Path(collection_path).parents
    with_mpi = config.getoption("--with-mpi", default=False)
    if inside_mpi_dir and not with_mpi:
        return True
    return None


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """The demo's job at N_TIMES observations, fitted serially without interruption."""
    directory = tmp_path_factory.mktemp("reference")
    write_demo_job(directory, n_times=N_TIMES)
    done = mpicg("fit", "job.toml", cwd=directory)
    assert done.returncode == 0, done.stdout + done.stderr
    return directory
