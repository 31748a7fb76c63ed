"""Run a job serially or over MPI ranks, from the same description.

A job is described by three functions: ``prepare`` (argument checks, rank 0 only),
``make_work`` (what each rank computes) and ``root_task`` (the optimizer on rank 0, given an
evaluator). :func:`run_job` runs them in-process when there is one rank
(:class:`~.serial.SerialEvaluator`), or collectively (:func:`.mpi.run_collective`) when
there are several.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import Evaluator, JobOutcome, RankClock
from .malloc import tune_malloc
from .serial import SerialEvaluator
from .sharing import Work
from .signals import FitInterrupted, requested

__all__ = ["run_job"]


def run_job(make_work: Callable[[Any, int, int], Work], root_task: Callable[[Evaluator], Any],
            prepare: Callable[[], None] | None = None, comm=None,
            local_error: BaseException | None = None) -> JobOutcome:
    """Run ``root_task`` with an evaluator over all ranks (or this process alone).

    Parameters
    ----------
    make_work : callable
        ``make_work(world, rank, size) -> Work``; ``world`` is the communicator or None.
    root_task : callable
        ``root_task(evaluator) -> result``, run on rank 0.
    prepare : callable, optional
        Argument checks, run on rank 0 before anything else.
    comm : mpi4py communicator, optional
        Where to run (default: the MPI world when started as several ranks).
    local_error : BaseException, optional
        An error this rank met in its own set-up before the call (bad data, say): raised on
        every rank, at the start, by the collective verdict (serially: raised at once).

    Returns
    -------
    JobOutcome
        The result (on every rank) and each rank's time accounting.
    """
    from .mpi import get_world, run_collective

    tune_malloc()  # numpy models run as fast as under launch/mpirun.sh
    world = get_world(comm)
    if world is None:
        if local_error is not None:
            raise local_error
        if prepare is not None:
            prepare()
        if requested() is not None:  # a signal noted while setting up: nothing to save yet
            raise FitInterrupted(requested())
        clock = RankClock()
        result = root_task(SerialEvaluator(make_work(None, 0, 1), clock))
        return JobOutcome(result, [clock.summary()])
    return run_collective(world, lambda rank, size: make_work(world, rank, size), root_task,
                          prepare, local_error)
