"""What a batch's work is: a grid of points x blocks, computed in pieces by the ranks.

A *work* knows how to compute one piece of the grid of a batch (some points on some blocks:
one block sum per cell), how rank 0 turns the whole grid into objective values, and which
:class:`~.balance.Sharing` decides who computes what (:mod:`.layout`). The same work runs
serially (:class:`~.serial.SerialEvaluator`) or over MPI (:mod:`.mpi`), and the assembly is
the same code on both paths, which is what keeps their results bitwise equal.

A sum objective (:class:`mpicg.fitting.SumObjective`) is shared by points and blocks
(:class:`BlockWork`): this package needs only its per-block interface (``n_items``,
``n_blocks``, ``edges``, ``block_sums``, ``value_from_total``, ``digest``), not what the
points mean. A plain callable is one block wide (:class:`PointWork`): its points are shared
out.
"""

from __future__ import annotations

import pickle
import time
from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from ..errors import InputError
from ..optimize import FunctionWithArgs, objective_value
from .balance import FixedSharing, MeasuredSharing, Sharing
from .blocks import sum_blocks
from .layout import Piece

__all__ = ["SHARINGS", "BlockWork", "PointWork", "Work", "check_sharing", "distribute"]

#: How a sum objective's batches are shared: ``'auto'`` (layouts from the measured cost
#: model, rebalanced as the fit runs), ``'blocks'`` (every point on a fixed range of blocks
#: per rank) or ``'points'`` (whole points per rank).
SHARINGS = ("auto", "blocks", "points")


def check_sharing(sharing) -> str:
    """``sharing`` if it is one of :data:`SHARINGS`, else InputError naming it."""
    if not isinstance(sharing, str) or sharing not in SHARINGS:
        raise InputError(f"`sharing` must be one of {list(SHARINGS)}; got {sharing!r}")
    return sharing


class Work(ABC):
    """A batch's grid of cells (points x blocks): pieces computed anywhere, assembled on rank 0.

    Attributes
    ----------
    n_blocks : int
        Blocks per point (the grid's width).
    sharing_name : str
        The sharing asked for (one of :data:`SHARINGS`).
    """

    n_blocks: int
    sharing_name: str

    @abstractmethod
    def piece_sums(self, points: np.ndarray, first_block: int, last_block: int) -> np.ndarray:
        """Block sums of blocks ``[first_block, last_block)`` at each of ``points``.

        Returns
        -------
        ndarray, shape (len(points), last_block - first_block)
        """

    @abstractmethod
    def values(self, grid: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Objective values of the batch from its ``m x n_blocks`` grid (rank 0)."""

    @abstractmethod
    def sharing(self, n_ranks: int) -> Sharing:
        """Rank 0's choice of layouts for this work over ``n_ranks`` ranks."""

    def compute(self, points: np.ndarray, pieces: list[Piece]) -> tuple[np.ndarray, list]:
        """A rank's payload (its pieces' sums, point-major) and each piece's seconds."""
        sums, seconds = [], []
        for p in pieces:
            t0 = time.perf_counter()
            part = self.piece_sums(points[p.first_point:p.last_point], p.first_block,
                                   p.last_block)
            sums.append(np.ascontiguousarray(part, dtype=np.float64).ravel())
            seconds.append(time.perf_counter() - t0)
        return (np.concatenate(sums) if sums else np.empty(0)), seconds

    def nan_source(self, grid: np.ndarray, points: np.ndarray, layout=None,
                   infinite: bool = False) -> str | None:
        """Where the first NaN cell (or infinite one) of a batch's grid came from, for messages.

        ``layout`` says which rank computed each cell (None: rank 0 computed them all).
        """
        bad = np.argwhere(np.isinf(grid) if infinite else np.isnan(grid))
        if not bad.size:
            return None
        point, block = (int(v) for v in bad[0])
        rank = 0 if layout is None else layout.owner(point, block)
        return self.describe_cell(point, block, rank, points, infinite)

    def describe_cell(self, point: int, block: int, rank: int, points: np.ndarray,
                      infinite: bool = False) -> str:
        """Which rank computed a cell (a NaN one, or an infinite one), and what the cell is."""
        what = "inf" if infinite else "NaN"
        return f"{what} came from rank {rank} at x = {points[point].tolist()}"

    def probe(self, points: np.ndarray, block: int) -> float:
        """Seconds of one model call on one block (the fixed cost per call; result unused)."""
        t0 = time.perf_counter()
        self.piece_sums(points[:1], block, block + 1)
        return time.perf_counter() - t0


class BlockWork(Work):
    """A sum objective's batch: each cell a block's sum of terms at a point.

    Parameters
    ----------
    objective : SumObjective
        The whole problem (every rank holds all of it, so any rank can compute any cell).
    sharing : {'auto', 'blocks', 'points'}
        How batches are shared among ranks (see :data:`SHARINGS`).
    """

    def __init__(self, objective, sharing: str = "auto"):
        self.objective = objective
        self.n_blocks = objective.n_blocks
        self.sharing_name = sharing

    def piece_sums(self, points, first_block, last_block):
        """:meth:`SumObjective.block_sums`: one model call per point on the blocks' times."""
        return self.objective.block_sums(points, first_block, last_block)

    def values(self, grid, points):
        """Add each point's block sums in block order (:func:`.blocks.sum_blocks`)."""
        return self.objective.value_from_total(sum_blocks(grid), points)

    def describe_cell(self, point, block, rank, points, infinite=False):
        """The rank, observations and point of a block sum (the model's output)."""
        first, last = (int(v) for v in self.objective.edges[block:block + 2])
        where = f"on rank {rank}, for observations {first} to {last - 1}, at x = " \
                f"{points[point].tolist()}"
        if not infinite:
            return f"the model gave NaN {where}"
        return f"a term was infinite {where}: {self.objective.why_infinite(points[point])}"

    def sharing(self, n_ranks: int) -> Sharing:
        """Measured layouts (``'auto'``), or a fixed sharing."""
        if self.sharing_name == "auto":
            return MeasuredSharing(n_ranks, np.diff(self.objective.edges))
        return FixedSharing(self.sharing_name, n_ranks, self.n_blocks)


class PointWork(Work):
    """A plain objective callable: one block, so the points of a batch are shared out.

    This is how a plain callable runs under MPI: a finite-difference gradient's n points are
    shared out (the parameter axis), since the callable cannot be split in time.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> float``.
    args : tuple
        Extra arguments of ``fun``.
    name : str
        How errors name ``fun``.
    mapper : callable, optional
        scipy's ``workers`` (a map-like callable; serial runs): a rank's points are computed
        as ``mapper(f, points)`` instead of one call after the other.
    """

    n_blocks = 1
    sharing_name = "points"

    def __init__(self, fun: Callable[..., float], args: tuple = (), name: str = "fun",
                 mapper: Callable | None = None):
        self.fun, self.args, self.name = fun, args, name
        self.mapper = mapper

    def piece_sums(self, points, first_block, last_block):
        """Each point's value (``fun`` on a copy of the point), one row per point."""
        if self.mapper is not None:  # scipy's `workers`: a map-like callable
            call = FunctionWithArgs(self.fun, self.args)
            returned = list(self.mapper(call, [np.copy(x) for x in points]))
        else:
            returned = (self.fun(np.copy(x), *self.args) for x in points)
        values = np.empty((len(points), 1))
        for i, (x, value) in enumerate(zip(points, returned, strict=True)):
            values[i, 0] = objective_value(value, self.name, x)
        return values

    def values(self, grid, points):
        """The values in point order."""
        return grid[:, 0].copy()

    def describe_cell(self, point, block, rank, points, infinite=False):
        """The rank and the point of a value."""
        return (f"`{self.name}` returned {'inf' if infinite else 'NaN'} on rank {rank} at "
                f"x = {points[point].tolist()}")

    def sharing(self, n_ranks: int) -> Sharing:
        """Whole points, as even as possible."""
        return FixedSharing("points", n_ranks, 1)


def distribute(objective, world, rank: int, size: int, sharing: str = "auto") -> BlockWork:
    """The work of a sum objective on this rank; every rank ends up holding all of it.

    Every rank may pass its own copy of the objective, or ranks other than 0 may pass None,
    and rank 0 sends them its own (the model must then pickle). Each rank keeps the whole
    problem (its times, fluxes and sigmas: 24 bytes per observation), so that the layouts
    can move any cell to any rank without moving data. ``world`` is None for a serial run.

    Raises
    ------
    InputError
        On a rank whose copy is not rank 0's problem (other data or blocks, by their
        digest): the ranks' fits would pair different light curves (a pipeline whose ranks
        got out of step, data read differently on one node); on every rank when some ranks
        passed None and rank 0's problem does not pickle.

    Notes
    -----
    Every rank takes part in the same collective calls whatever fails, so that a failure
    on some ranks only (an objective whose ``digest()`` raises on one rank, a model that
    does not unpickle) reaches the verdict that follows (:func:`.verdict.agree`) instead of
    leaving other ranks waiting in a broadcast. A rank returns None when it did not fail
    but another did: the verdict then raises that rank's error everywhere.
    """
    if world is None:
        return BlockWork(objective, sharing)
    error = None
    try:
        mine = None if objective is None else (objective.n_items, objective.digest())
    except Exception as e:  # reported by the verdict; the other ranks must not wait here
        mine, error = _FAILED, e
    have = world.allgather(mine)
    if error is not None:
        raise error
    if have[0] is None:
        # rank 0's own checks (prepare) reject this before we get here
        raise InputError("the problem must be given on rank 0")
    # Every rank judges every rank alike from what the allgather gave all of them, so that
    # the ranks that go on all go on into the same broadcast (or none does).
    wrong = {r: _disagreement(have[r], have[0]) for r in range(len(have))}
    if any(wrong.values()):
        if wrong[rank]:
            raise InputError(wrong[rank])
        return None  # the verdict that follows raises the other rank's error everywhere
    if all(h is not None for h in have):
        return BlockWork(objective, sharing)
    # Rank 0 pickles its problem itself: pickling inside the broadcast would raise on
    # rank 0 alone and leave the others waiting in it.
    if rank == 0:
        try:
            sent = (pickle.dumps(objective, pickle.HIGHEST_PROTOCOL), None)
        except Exception as e:
            sent = (None, f"{type(e).__name__}: {e}")
    payload, reason = world.bcast(sent if rank == 0 else None, root=0)
    if reason is not None:
        raise InputError(
            f"ranks {', '.join(str(r) for r, h in enumerate(have) if h is None)} passed None "
            f"for the problem, so rank 0 must send them its own, and it does not pickle "
            f"({reason}); give every rank its own copy (build the problem on every rank), "
            "or use a model that pickles (defined at the top level of a module, not a "
            "lambda or a function defined inside another)")
    return BlockWork(objective if rank == 0 else pickle.loads(payload), sharing)


_FAILED = "failed"  # in place of a rank's (observations, digest): its digest() raised


def _disagreement(mine, first) -> str | None:
    """Why a rank's problem is not rank 0's (None: it is, or the rank passed None)."""
    if mine is None:
        return None
    if mine == _FAILED:
        return "its problem's digest() raised"
    if first == _FAILED:
        return None  # (rank 0's own entry says so)
    if mine != first:
        return (f"every rank must hold the same problem; this rank's ({mine[0]} "
                f"observations, digest {mine[1][:12]}) differs from rank 0's ({first[0]} "
                f"observations, digest {first[1][:12]}): are the ranks fitting different "
                "light curves?")
    return None
