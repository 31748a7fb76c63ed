"""The collective fit: every rank calls :func:`fit`, rank 0 optimizes, all ranks evaluate."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..optimize import DEFAULT_C1, DEFAULT_C2, EPSILON, OptimizeResult
from ._collective import collective_cg, with_statistics
from .problem import SumObjective

__all__ = ["fit"]


def fit(problem: SumObjective | None, x0, *, gtol: float = 1e-5, norm: float = np.inf,
        epsilon=EPSILON, jac: str | None = None, finite_diff_rel_step=None,
        maxiter: int | None = None, c1: float = DEFAULT_C1, c2: float = DEFAULT_C2,
        callback: Callable | None = None, return_all: bool = False, disp: bool = False,
        progress_every_niters: int = 0, progress_file=None, resume=None,
        sharing: str = "auto", comm=None) -> OptimizeResult:
    """Fit a problem with Polak–Ribière+ CG, every evaluation shared by all MPI ranks.

    A collective call: every rank calls it with the same arguments. Rank 0 runs the
    optimizer; each batch of points is a grid of points x blocks of observations, and every
    rank (rank 0 too) computes its part of it (some points on some blocks, chosen from the
    model's measured costs); rank 0 adds each point's block sums in block order. The result
    is bitwise the same for any number of ranks and any sharing, and for the serial run you
    get without MPI.

    Parameters
    ----------
    problem : SumObjective or None
        The problem (e.g. :class:`mpicg.Problem`). Ranks other than 0 may pass None: rank 0
        then sends them its problem (the model must pickle).
    x0 : array_like
        The starting point, 1-D.
    gtol, norm, maxiter, c1, c2 : optional
        As in :func:`mpicg.fmin_cg`.
    epsilon : float or ndarray, optional
        Absolute forward-difference step(s) (with ``jac=None``).
    jac : {None, '2-point', '3-point'}, optional
        Forward differences with ``epsilon``, or scipy's relative-step schemes.
    finite_diff_rel_step : float or ndarray, optional
        Relative step for ``'2-point'``/``'3-point'``.
    callback : callable, optional
        Called on rank 0 after each iteration, as in :func:`mpicg.minimize`.
    return_all : bool, optional
        Keep every iterate (``allvecs``).
    disp : bool, optional
        Print scipy's summary on rank 0.
    progress_every_niters : int, optional
        Every so many iterations rank 0 writes the complete CG state to ``progress_file``
        (atomically; see :mod:`mpicg.fitting.checkpoint`). 0: never.
    progress_file : str or path, optional
        The progress file.
    resume : str or path, optional
        Continue from a progress file (``x0`` is then ignored and may be None; the CG and
        finite-difference options stored in the file are used). The result has the bits of
        the uninterrupted run, with any number of ranks. A missing, truncated, corrupted or
        foreign (another problem's) file is an InputError.
    sharing : {'auto', 'blocks', 'points'}, optional
        Who computes what: ``'auto'`` chooses the layout of each batch from a cost model
        measured as the fit runs (a fixed cost per model call, a cost per block) and moves
        block boundaries between ranks as the measurements say; ``'blocks'`` gives each rank
        a fixed range of blocks for every point; ``'points'`` gives each rank whole points.
        The result is the same to the bit; only the speed differs.
    comm : mpi4py communicator, optional
        The ranks to use (default: the MPI world when started under ``mpirun``; else serial).

    Returns
    -------
    OptimizeResult
        On every rank: ``x, fun, jac, nit, nfev, njev, status, success, message``, and
        ``rounds`` (collective evaluation rounds), ``n_ranks``, ``time_model`` and
        ``time_waiting`` (seconds per rank), ``rank_rounds`` (rounds each rank took part
        in), ``wall_time`` (seconds, rank 0), ``sharing``, ``imbalance_before`` and
        ``imbalance_after`` (the slowest rank's model time over the mean rank's, summed over
        the rounds before the first rebalancing, and over the last 10 rounds; 1 is perfect)
        and ``rebalances`` (layout changes).

    Raises
    ------
    InputError
        Bad arguments or data, raised once, on rank 0; the other ranks exit quietly.
    RemoteEvaluationError
        The model raised on some rank; raised on rank 0 naming the rank, with its traceback.
    """
    outcome = collective_cg(problem, x0, jac=jac, callback=callback, gtol=gtol, norm=norm,
                            eps=epsilon, maxiter=maxiter, disp=disp, return_all=return_all,
                            finite_diff_rel_step=finite_diff_rel_step, c1=c1, c2=c2,
                            names=("problem", "jac", "epsilon"), require_problem=True,
                            progress_every_niters=progress_every_niters,
                            progress_file=progress_file, resume=resume, sharing=sharing,
                            comm=comm)
    return with_statistics(outcome)
