"""Shared test set-up: MPI tests in tests/mpi/ run only inside an MPI job (``--with-mpi``).

The normal ``pytest`` run starts those jobs itself (tests/test_mpi_jobs.py), under
``mpirun -n 1..4`` with a timeout each, so a plain ``pytest`` tests everything.
"""

from pathlib import Path

MPI_DIR = Path(__file__).parent / "mpi"


def pytest_ignore_collect(collection_path, config):
    """Collect tests/mpi/ only when pytest runs inside an MPI job (``--with-mpi``)."""
    inside_mpi_dir = collection_path == MPI_DIR or MPI_DIR in Path(collection_path).parents
    with_mpi = config.getoption("--with-mpi", default=False)
    if inside_mpi_dir and not with_mpi:
        return True
    return None
