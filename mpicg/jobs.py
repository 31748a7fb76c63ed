"""Run a CG job serially or over MPI ranks, from the same description.

A job is described by three functions: ``prepare`` (argument checks, rank 0 only),
``make_work`` (what each rank computes) and ``root_task`` (the optimizer on rank 0, given an
evaluator). :func:`run_job` runs them in-process when there is one rank, or collectively
(:func:`mpicg.executor.mpi.run_collective`) when there are several.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .blocks import block_ranges
from .errors import InputError
from .executor.base import Evaluator, RankClock
from .executor.work import BlockWork, LocalEvaluator, Work
from .problem import SumObjective

__all__ = ["distribute", "run_job"]


def run_job(make_work: Callable[[Any, int, int], Work], root_task: Callable[[Evaluator], Any],
            prepare: Callable[[], None] | None = None, comm=None) -> tuple[Any, list[dict]]:
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

    Returns
    -------
    result, stats
        The result (on every rank) and each rank's time accounting.
    """
    from .executor.mpi import get_world, run_collective

    world = get_world(comm)
    if world is None:
        if prepare is not None:
            prepare()
        clock = RankClock()
        result = root_task(LocalEvaluator(make_work(None, 0, 1), clock))
        return result, [clock.summary()]
    return run_collective(world, lambda rank, size: make_work(world, rank, size), root_task,
                          prepare)


def distribute(objective: SumObjective | None, world, rank: int, size: int) -> BlockWork:
    """The share of a sum objective for this rank, holding only its own blocks.

    Every rank may pass its own copy of the objective (each keeps its blocks), or ranks other
    than 0 may pass None, and rank 0 sends each its blocks (the model must then pickle).
    """
    if world is None:
        if objective.setup_error is not None:
            raise objective.setup_error
        return BlockWork(objective)
    have = world.allgather(None if objective is None else
                           (objective.setup_error is None, objective.n_items))
    if have[0] is None or not have[0][0]:
        # rank 0's own checks (prepare) reject this before we get here
        raise InputError("the problem must be given on rank 0")
    n_items = have[0][1]
    mine = have[rank]
    if mine is not None and mine[0] and mine[1] != n_items:
        raise InputError(f"every rank must hold the same problem; this rank has {mine[1]} "
                         f"observations, rank 0 has {n_items}")
    if all(h is not None for h in have):
        if objective.setup_error is not None:
            raise objective.setup_error
        first, last = block_ranges(objective.n_blocks, size)[rank]
        return BlockWork(objective.restrict(first, last), size, rank)
    parts = None
    if rank == 0:
        parts = [objective.restrict(first, last)
                 for first, last in block_ranges(objective.n_blocks, size)]
    local = world.scatter(parts, root=0)
    return BlockWork(local, size, rank)
