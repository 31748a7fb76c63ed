"""What the MPI launcher told this process, read from the environment without importing MPI.

``import mpicg`` must work where MPI is absent or broken, so mpi4py is imported only when the
environment says this process is one of several ranks (or when the user passes a communicator).
Also here: finding ``mpirun``; starting MPI early in a multi-rank launch; refusing a launch
whose MPI does not match its launcher; the last-resort abort of a job whose rank died with an
uncaught exception; and the guard that turns a rank's ``os._exit`` during a fit into the end
of the whole job.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import time
import traceback
import warnings
from contextlib import contextmanager

from ..errors import EXIT_FAILURE, InputError, exit_code_of, is_collective, is_copy, mark_copy

__all__ = ["check_launch", "find_mpirun", "guard_exits", "install_abort_on_uncaught",
           "is_root", "launch_local_size", "launch_rank", "launch_size", "start_mpi",
           "warn_on_root"]

# (rank, size) variables of MPICH/Intel MPI (hydra, PMI), Open MPI, PMIx, MVAPICH, and SLURM's
# srun, in that order: the first found is the launcher that started this process. SLURM's
# size is the step's (SLURM_STEP_NUM_TASKS, set by srun only): SLURM_NTASKS is also set in
# the batch shell itself, which is one process, and in every rank mpirun starts inside an
# allocation.
_RANK_SIZE_VARS = (
    ("PMI_RANK", "PMI_SIZE"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
    ("PMIX_RANK", "PMIX_SIZE"),
    ("MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE"),
    ("SLURM_PROCID", "SLURM_STEP_NUM_TASKS"),
)


def _launch() -> tuple[int, int, str] | None:
    """(rank, size, name of the size variable) from the first launcher found."""
    for rank_name, size_name in _RANK_SIZE_VARS:
        rank, size = os.environ.get(rank_name), os.environ.get(size_name)
        if rank is not None and size is not None and rank.strip().isdigit() \
                and size.strip().isdigit():
            return int(rank), int(size), size_name
    return None


def launch_rank() -> int | None:
    """The rank the launcher gave this process, or None outside a launcher."""
    found = _launch()
    return None if found is None else found[0]


def launch_size() -> int | None:
    """The number of ranks the launcher started, or None outside a launcher."""
    found = _launch()
    return None if found is None else found[1]


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


def is_root(comm=None) -> bool:
    """True on rank 0 of ``comm`` (a fit's communicator) when given, else of the launch.

    Outside a launcher this process is all, and rank 0. (A ``comm`` that is not a
    communicator counts as rank 0 here: the fit itself refuses it.)
    """
    if comm is not None:
        get_rank = getattr(comm, "Get_rank", None)
        return not callable(get_rank) or get_rank() == 0
    return (launch_rank() or 0) == 0


def warn_on_root(message: str, category: type[Warning] = UserWarning,
                 stacklevel: int = 1, comm=None) -> None:
    """``warnings.warn`` on rank 0 only: about arguments every rank was given alike.

    Rank 0 of ``comm``, the fit's communicator, when given (a fit on ``MPI.COMM_SELF`` on
    each rank warns on each); else of the launch. ``stacklevel`` counts from the caller, as
    ``warnings.warn``'s does.
    """
    if is_root(comm):
        warnings.warn(message, category, stacklevel=stacklevel + 1)


def find_mpirun() -> str | None:
    """The MPI launcher, or None when there is none.

    The ``mpirun`` beside this Python (a virtualenv's mpich wheel) first, else ``mpirun``
    or ``mpiexec`` on the PATH.
    """
    beside = os.path.join(os.path.dirname(sys.executable), "mpirun")
    if os.path.exists(beside):
        return beside
    return shutil.which("mpirun") or shutil.which("mpiexec")


def start_mpi() -> None:
    """Start MPI now when the launcher started several ranks (what ``import mpicg`` does).

    Started early, every rank is inside MPI long before its first collective call, so a rank
    that is late, busy or gone when a fit starts is named by the start-up handshake
    (:mod:`.handshake`) instead of leaving the others blocked in ``MPI_Init``, where nothing
    can time out. A broken MPI is left for the first collective call to report.
    """
    if (launch_size() or 1) < 2:
        return
    install_abort_on_uncaught()
    try:
        from mpi4py import MPI  # noqa: F401  (importing it starts MPI)
    except Exception:  # reported, clearly, by the first collective call
        return
    from .handshake import announce_exit

    atexit.register(announce_exit)


def _library() -> str:
    try:
        from mpi4py import MPI

        return MPI.Get_library_version().splitlines()[0].strip()
    except Exception:
        return "unknown"


def check_launch(world_size: int) -> None:
    """Refuse a launch whose MPI does not match its launcher.

    The launcher's environment says N tasks, but MPI sees a world of one: each task is a
    separate one-rank MPI job and would run the whole fit on its own (N duplicate fits
    writing one output directory). Typical cause: SLURM's plain ``srun`` with an MPI that
    needs ``srun --mpi=pmi2`` (the pip ``mpich`` wheel) or PMIx, or an mpi4py built against
    another MPI than the launcher's.

    Raises
    ------
    InputError
        On the launch's rank 0; a quiet copy (:func:`~mpicg.errors.mark_copy`) on the other
        tasks, so the message is printed once and every task exits 2.
    """
    found = _launch()
    if found is None or found[1] < 2 or world_size != 1:
        return
    rank, size, variable = found
    error = InputError(
        f"the launcher started {size} tasks ({variable}={size}), but MPI sees one rank in "
        f"each: they are {size} separate one-rank jobs, which would each run the whole fit. "
        f"The launcher does not match the MPI library mpi4py uses ({_library()}). "
        "Fix: with the pip `mpich` wheel, start the ranks with `srun --mpi=pmi2` under "
        "SLURM, or with the wheel's own `mpirun -n N`; with a cluster's MPI, build mpi4py "
        "against it (MPICC=$(which mpicc) pip install --no-binary=mpi4py mpi4py) and use "
        "the launcher your site documents (`srun --mpi=list` shows what SLURM offers).")
    raise error if rank == 0 else mark_copy(error)


#: Seconds a rank other than 0 waits before it reports an uncaught error and aborts.
_QUIET_GRACE = 2.0


def _abort_world(code: int) -> None:
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
        from .handshake import abort_job

        abort_job(mpi.COMM_WORLD, code)


def _with_rank(text: str) -> str:
    rank = launch_rank()
    if rank is None:
        return text
    # Many ranks share one terminal: say whose message this is.
    return "".join(f"[rank {rank}] {line}\n" for line in text.splitlines())


def install_abort_on_uncaught() -> None:
    """Turn an uncaught exception into ``MPI.COMM_WORLD.Abort`` after printing it.

    In a multi-rank job a rank that dies with an exception while others wait in a collective
    would hang the job (and ``MPI_Finalize`` at exit can wait for them forever). Like
    ``python -m mpi4py``, print the traceback, then abort every rank, with exit code 2 for
    bad input and 1 otherwise. A rank other than 0 waits :data:`_QUIET_GRACE` seconds
    first: when every rank meets the same error (the same bad data read everywhere), rank
    0's abort ends it in that time, and the job prints one traceback, not one per rank.
    Two kinds of error need no abort, because every rank raised them together
    (:func:`~mpicg.errors.is_collective`): rank 0 prints its own, and the other ranks'
    copies stay quiet. ``SystemExit`` (mpicg's quiet exit on ranks other than 0) is left
    alone.
    """
    if getattr(sys.excepthook, "_mpicg_abort", False):
        return

    def hook(exc_type, exc, tb):
        if exc is not None and is_copy(exc):
            return
        collective = exc is not None and is_collective(exc)
        if not collective and (launch_rank() or 0) != 0:
            time.sleep(_QUIET_GRACE)
        try:
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            sys.stderr.write(_with_rank(text))
            sys.stderr.flush()
        finally:
            if not collective:
                _abort_world(exit_code_of(exc) if exc is not None else EXIT_FAILURE)

    hook._mpicg_abort = True
    sys.excepthook = hook


_guard = {"depth": 0, "pid": None, "real": None}


@contextmanager
def guard_exits(comm):
    """While a collective fit runs, ``os._exit`` on this rank ends every rank, non-zero.

    ``os._exit`` (a model's, or a library's) skips every handler, and MPICH's ``mpirun``
    reports a rank that leaves with status 0 as a success while it kills the others: the
    job would end with exit code 0 and no solution. While the guard is on, the call prints
    which rank left and aborts the job with exit code 1 instead. Forked children (a model's
    ``multiprocessing``) inherit the guard but are left alone.
    """
    if _guard["depth"] == 0:
        _guard["pid"], _guard["real"] = os.getpid(), os._exit
        real = _guard["real"]
        rank = comm.Get_rank()

        def leaving(code: int) -> None:
            if os.getpid() != _guard["pid"]:
                real(code)
            sys.stderr.write(_with_rank(
                f"mpicg: rank {rank} called os._exit({code}) during a collective fit; "
                "every rank stops\n"))
            sys.stderr.flush()
            time.sleep(0.25)  # let the launcher pass the message on before it ends all
            try:
                comm.Abort(EXIT_FAILURE)
            finally:  # should MPI_Abort return
                real(EXIT_FAILURE)

        os._exit = leaving
    _guard["depth"] += 1
    try:
        yield
    finally:
        _guard["depth"] -= 1
        if _guard["depth"] == 0:
            os._exit = _guard["real"]
