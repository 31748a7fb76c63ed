"""What the MPI launcher told this process, read from the environment without importing MPI.

``import mpicg`` must work where MPI is absent or broken, so mpi4py is imported only when the
environment says this process is one of several ranks (or when the user passes a communicator).
Also here: finding ``mpirun``, the last-resort abort of a job whose rank died with an uncaught
exception, and the rule that a configuration error is reported by rank 0 alone.
"""

from __future__ import annotations

import os
import shutil
import sys
import traceback

from ..errors import EXIT_INPUT, FitAborted

__all__ = ["find_mpirun", "install_abort_on_uncaught", "is_root", "launch_local_size",
           "launch_rank", "launch_size", "raise_on_root"]

# (rank, size) variables of MPICH/Intel MPI (hydra, PMI), Open MPI, PMIx, MVAPICH, SLURM srun.
_RANK_SIZE_VARS = (
    ("PMI_RANK", "PMI_SIZE"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
    ("PMIX_RANK", "PMIX_SIZE"),
    ("MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE"),
    ("SLURM_PROCID", "SLURM_NTASKS"),
)


def _read(index: int) -> int | None:
    for names in _RANK_SIZE_VARS:
        value = os.environ.get(names[index])
        if value is not None and value.strip().isdigit():
            return int(value)
    return None


def launch_rank() -> int | None:
    """The rank the launcher gave this process, or None outside a launcher."""
    return _read(0)


def launch_size() -> int | None:
    """The number of ranks the launcher started, or None outside a launcher."""
    return _read(1)


# Ranks the launcher started on this process's node: MPICH/Intel MPI (hydra), Open MPI,
# MVAPICH.
_LOCAL_SIZE_VARS = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE",
                    "MV2_COMM_WORLD_LOCAL_SIZE")


def launch_local_size() -> int | None:
    """The number of ranks the launcher started on this node, or None when it did not say."""
    for name in _LOCAL_SIZE_VARS:
        value = os.environ.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return None


def is_root() -> bool:
    """True on rank 0 of a launch, and outside a launcher (where this process is all)."""
    return (launch_rank() or 0) == 0


def raise_on_root(error: Exception):
    """Raise a configuration error on rank 0; leave quietly on the other ranks of a job.

    Every rank checks the same arguments and reaches the same verdict, so rank 0 alone
    reports it (and its uncaught error ends the job); the others exit with
    :data:`~mpicg.errors.EXIT_INPUT` through :class:`~mpicg.errors.FitAborted`.
    """
    if not is_root():
        raise FitAborted(str(error), EXIT_INPUT) from error
    raise error


def find_mpirun() -> str | None:
    """The MPI launcher, or None when there is none.

    The ``mpirun`` beside this Python (a virtualenv's mpich wheel) first, else ``mpirun``
    or ``mpiexec`` on the PATH.
    """
    beside = os.path.join(os.path.dirname(sys.executable), "mpirun")
    if os.path.exists(beside):
        return beside
    return shutil.which("mpirun") or shutil.which("mpiexec")


def _abort_world() -> None:
    """Abort every rank of the job; start MPI first if this rank never did.

    A rank that fails before MPI starts cannot simply exit: the others may already wait for
    it in MPI's start-up or in a collective, and the launcher may not notice one exit.
    """
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None and (launch_size() or 1) > 1:
        try:
            from mpi4py import MPI

            mpi = MPI
        except Exception:  # no usable MPI: the plain exit is all we can do
            return
    if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized():
        mpi.COMM_WORLD.Abort(1)


def install_abort_on_uncaught() -> None:
    """Turn an uncaught exception into ``MPI.COMM_WORLD.Abort(1)`` after printing it.

    In a multi-rank job a rank that dies with an exception while others wait in a collective
    would hang the job (and ``MPI_Finalize`` at exit can wait for them forever). Like
    ``python -m mpi4py``, print the traceback, then abort every rank. ``SystemExit`` (mpicg's
    quiet exit on ranks other than 0) is left alone.
    """
    if getattr(sys.excepthook, "_mpicg_abort", False):
        return

    def hook(exc_type, exc, tb):
        try:
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            rank = launch_rank()
            if rank is not None:
                # Many ranks share one terminal: say whose traceback this is.
                text = "".join(f"[rank {rank}] {line}\n" for line in text.splitlines())
            sys.stderr.write(text)
            sys.stderr.flush()
        finally:
            _abort_world()

    hook._mpicg_abort = True
    sys.excepthook = hook
