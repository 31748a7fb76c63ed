"""Which cells of a batch's grid each rank computes.

The work of a batch of m points over B fixed blocks of observations is an m x B grid of
cells; cell (i, b) is the sum of the terms of block b at point i. A :class:`Layout` gives
each rank a set of cells as at most three *pieces* — rectangles (some points on some blocks)
— and tells rank 0 where each rank's sums go in the grid. Two kinds:

``CELLS``
    Each rank holds a contiguous run of cells in point-major order (``cuts[r]`` to
    ``cuts[r + 1]``): the tail of one point's blocks, some whole points, the head of another
    point's blocks. Whole points per rank (cuts on multiples of B), block ranges of one point,
    and everything in between are all of this kind. Since the runs follow each other in rank
    order, the gathered payloads, once the per-rank trailers are dropped, *are* the grid.
``BLOCKS``
    Rank r computes every point on blocks ``cuts[r]`` to ``cuts[r + 1]`` (block ranges fixed
    for the whole fit: how mpicg shared a batch before layouts were measured).

A layout never changes which terms make up a cell, and rank 0 adds a point's cells in block
order (:func:`.blocks.sum_blocks`), so no layout changes a bit of any value.

:func:`best_cuts` finds the CELLS layout whose slowest rank is fastest for given costs (a fixed
cost per model call, a cost per block and the ranks' slowdowns; see :mod:`.costs`): the classic
bottleneck partition of a sequence into contiguous parts (bisection on the bottleneck with a
greedy feasibility test; e.g. Pinar & Aykanat, "Fast optimal load balancing algorithms for 1D
partitioning", J. Parallel Distrib. Comput. 64, 2004), here with the fixed cost added once for
every point a part touches.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .blocks import block_ranges

__all__ = ["BLOCKS", "CELLS", "TRAILER", "Layout", "Piece", "best_cuts", "probe_block",
           "probe_blocks"]

CELLS, BLOCKS = 0, 1

#: Numbers each rank sends after its cell sums: a status flag, the seconds of each of its (at
#: most three) pieces, and the seconds of a probe call (see :mod:`.costs`).
TRAILER = 5


class Piece(NamedTuple):
    """Points ``[first_point, last_point)`` on blocks ``[first_block, last_block)``."""

    first_point: int
    last_point: int
    first_block: int
    last_block: int

    @property
    def calls(self) -> int:
        """Model calls this piece takes: one per point."""
        return self.last_point - self.first_point

    @property
    def cells(self) -> int:
        """Cells (block sums) this piece yields."""
        return self.calls * (self.last_block - self.first_block)


@dataclass(eq=False)
class Layout:
    """The cells of an ``m x n_blocks`` grid that each of ``n_ranks`` ranks computes.

    Parameters
    ----------
    kind : int
        :data:`CELLS` or :data:`BLOCKS` (see the module's description).
    m, n_blocks : int
        The grid: points of the batch, blocks of the problem.
    cuts : ndarray of int64, shape (n_ranks + 1,)
        Non-decreasing, from 0 to ``m * n_blocks`` (CELLS) or to ``n_blocks`` (BLOCKS).

    Raises
    ------
    ValueError
        When the cuts do not cover the grid exactly once.
    """

    kind: int
    m: int
    n_blocks: int
    cuts: np.ndarray
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.cuts = np.asarray(self.cuts, dtype=np.int64)
        end = self.m * self.n_blocks if self.kind == CELLS else self.n_blocks
        if (self.kind not in (CELLS, BLOCKS) or self.cuts.ndim != 1 or self.cuts.size < 2
                or self.cuts[0] != 0 or self.cuts[-1] != end
                or np.any(np.diff(self.cuts) < 0)):
            raise ValueError(f"not a layout of a {self.m} x {self.n_blocks} grid: kind "
                             f"{self.kind}, cuts {self.cuts.tolist()[:20]}")

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def whole_points(cls, m: int, n_blocks: int, n_ranks: int) -> Layout:
        """Whole points per rank, as even as possible (ranks beyond m have none)."""
        edges = [first for first, _ in block_ranges(m, n_ranks)] + [m]
        return cls(CELLS, m, n_blocks, np.array(edges, dtype=np.int64) * n_blocks)

    @classmethod
    def block_ranges(cls, m: int, n_blocks: int, n_ranks: int) -> Layout:
        """Every point on an even share of the blocks (ranks beyond B have none)."""
        edges = [first for first, _ in block_ranges(n_blocks, n_ranks)] + [n_blocks]
        return cls(BLOCKS, m, n_blocks, np.array(edges, dtype=np.int64))

    # -- what each rank computes ----------------------------------------------------------
    @property
    def n_ranks(self) -> int:
        """Ranks the grid is shared among."""
        return self.cuts.size - 1

    def pieces(self, rank: int) -> list[Piece]:
        """The rectangles of ``rank``, in the order its payload holds their sums.

        Each piece's sums are laid out point-major (one row of blocks per point).
        """
        first, last = int(self.cuts[rank]), int(self.cuts[rank + 1])
        if first == last:
            return []
        if self.kind == BLOCKS:
            return [Piece(0, self.m, first, last)]
        B = self.n_blocks
        p0, b0 = divmod(first, B)
        p1, b1 = divmod(last, B)
        if p0 == p1:
            return [Piece(p0, p0 + 1, b0, b1)]
        pieces = []
        if b0:
            pieces.append(Piece(p0, p0 + 1, b0, B))
            p0 += 1
        if p1 > p0:
            pieces.append(Piece(p0, p1, 0, B))
        if b1:
            pieces.append(Piece(p1, p1 + 1, 0, b1))
        return pieces

    def piece_table(self) -> np.ndarray:
        """Every rank's pieces, one row each: rank, slot, calls, first block, last block.

        ``slot`` is the piece's index among its rank's pieces (where its seconds are in the
        rank's trailer). Computed once per layout: the cost model reads it every round.
        """
        if "table" not in self._cache:
            rows = [(rank, slot, p.calls, p.first_block, p.last_block)
                    for rank in range(self.n_ranks)
                    for slot, p in enumerate(self.pieces(rank))]
            self._cache["table"] = np.array(rows, dtype=np.int64).reshape(-1, 5)
        return self._cache["table"]

    def owner(self, point: int, block: int) -> int:
        """The rank that computes the cell of ``point`` on ``block``."""
        index = point * self.n_blocks + block if self.kind == CELLS else block
        return int(np.searchsorted(self.cuts, index, side="right")) - 1

    def cell_counts(self) -> np.ndarray:
        """Cells each rank computes."""
        widths = np.diff(self.cuts)
        return widths * self.m if self.kind == BLOCKS else widths

    # -- rank 0: where the payloads go -----------------------------------------------------
    def gather_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Lengths and offsets of each rank's payload (cells, then :data:`TRAILER` numbers)."""
        if "gather" not in self._cache:
            counts = self.cell_counts() + TRAILER
            displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
            self._cache["gather"] = (counts, displs)
        return self._cache["gather"]

    def split(self, gathered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ``m x B`` grid of block sums and the ``n_ranks x TRAILER`` trailers."""
        counts, displs = self.gather_counts()
        if "split" not in self._cache:
            trailer = (displs + counts - TRAILER)[:, None] + np.arange(TRAILER)
            is_cell = np.ones(int(counts.sum()), dtype=bool)
            is_cell[trailer.ravel()] = False
            self._cache["split"] = (trailer, is_cell)
        trailer, is_cell = self._cache["split"]
        cells = gathered[is_cell]
        if self.kind == CELLS:
            grid = cells.reshape(self.m, self.n_blocks)
        else:  # each rank's cells are its blocks for every point: put the columns side by side
            parts = np.split(cells, np.cumsum(self.cell_counts())[:-1])
            grid = np.hstack([p.reshape(self.m, -1) for p in parts])
        return grid, gathered[trailer]

    # -- travelling with a round's message -------------------------------------------------
    def encode(self) -> np.ndarray:
        """The layout as float64 numbers (exact: every integer here is far below 2**53)."""
        return np.concatenate([[self.kind, self.m, self.n_blocks], self.cuts]).astype(
            np.float64)

    @classmethod
    def decode(cls, numbers: np.ndarray) -> Layout:
        """The layout :meth:`encode` wrote."""
        kind, m, n_blocks = (int(v) for v in numbers[:3])
        return cls(kind, m, n_blocks, numbers[3:].astype(np.int64))


_GOLDEN = 0.6180339887498949  # the golden ratio's fractional part


def probe_block(piece: Piece, rank: int) -> int:
    """The block of ``piece`` that ``rank`` times a probe call on (see :mod:`.costs`).

    Spread over the piece by rank (a golden-ratio sequence): a probed block's cost is known
    only as its share of the pieces around it, and when many ranks' pieces start at the same
    blocks (the first layouts), probes on every first block would all share one error.
    """
    width = piece.last_block - piece.first_block
    return piece.first_block + int((rank * _GOLDEN) % 1.0 * width)


#: The fewest ranks that probe when the probe round's ranks can choose. The fixed cost is
#: their probes' median, for the whole fit: with three, 30 % timing noise lost it (off by
#: more than half) in up to 8 of 100 simulated fits where every rank probing lost it in
#: none; with five, in none (a reviewer's seeds, m = 3-7 on 5-9 ranks).
MIN_PROBES = 5


def probe_blocks(layout: Layout) -> np.ndarray:
    """The block each rank times a probe call on in a probe round; -1: the rank does not.

    A probe is one more model call on one block. Ranks with fewer calls than the busiest
    rank probe: planned without a fixed cost, the first layout gives every rank about the
    same cells, and a rank whose run of cells crosses a point's end makes one more call than
    the others, so a probe there would lengthen the round by a whole call (30 ms of 100 for
    a fixed cost of 30 ms, 16 ranks, 5 points: ``benchmarks/round_timeline.py --kind
    fixed``). When fewer than :data:`MIN_PROBES` ranks (or fewer than all ranks with cells,
    if that is less) make fewer calls than the busiest, every rank with cells probes (and
    the probe then lengthens the round). A rank without cells never does: its probe would
    be its first call and pay its warm-up. The block is :func:`probe_block` of the rank's
    first piece. Computed once per layout, the same on every rank.
    """
    if "probes" not in layout._cache:
        pieces = [layout.pieces(rank) for rank in range(layout.n_ranks)]
        calls = np.array([sum(p.calls for p in own) for own in pieces])
        working = calls > 0
        fewer = working & (calls < calls.max())
        probing = fewer if fewer.sum() >= min(MIN_PROBES, working.sum()) else working
        layout._cache["probes"] = np.array(
            [probe_block(own[0], rank) if probing[rank] else -1
             for rank, own in enumerate(pieces)], dtype=np.int64)
    return layout._cache["probes"]


def best_cuts(m: int, n_ranks: int, call_seconds: float, block_seconds: np.ndarray,
              rel_tol: float = 1e-3, rank_slowdowns: np.ndarray | None = None) -> np.ndarray:
    """Cuts of the ``m x B`` cell grid (point-major) whose slowest rank is (nearly) fastest.

    Parameters
    ----------
    m : int
        Points in the batch.
    n_ranks : int
        Ranks to share them.
    call_seconds : float
        Fixed cost of one model call, in seconds (>= 0).
    block_seconds : ndarray, shape (B,)
        Cost of each block in one call, in seconds (> 0).
    rel_tol : float
        The slowest rank is within this relative distance of the optimum.
    rank_slowdowns : ndarray, shape (n_ranks,), optional
        How many times as long each rank takes as the costs say (finite, > 0; a slow core:
        > 1). A rank's run is then as long as ``capacity / slowdown`` allows, and a slow rank
        may get no cells at all. None: every rank alike (the same cuts as all ones, faster).

    Returns
    -------
    ndarray of int64, shape (n_ranks + 1,)
        Cuts for a :data:`~.layout.CELLS` layout. With the ranks alike, rank 0 gets the
        smallest share (it also runs the optimizer and assembles the batch); a slowdown
        moves work from whichever rank it is.

    Raises
    ------
    ValueError
        When ``rank_slowdowns`` is not n_ranks finite numbers > 0.
    """
    # Walk the mirrored grid so that the slack of the greedy partition falls on rank 0.
    walk = _Walk(m, call_seconds, np.asarray(block_seconds, dtype=np.float64)[::-1])
    # Bounds: one cell must fit in a run; every point is at least one call.
    cell = call_seconds + float(np.max(block_seconds))
    if rank_slowdowns is None:
        factors, fastest, slowest, spread = None, 1.0, 1.0, float(n_ranks)
    else:
        given = np.asarray(rank_slowdowns, dtype=np.float64)
        with np.errstate(divide="ignore", over="ignore"):
            usable = given.shape == (n_ranks,) and bool(np.all(
                np.isfinite(given) & (given > 0) & np.isfinite(1.0 / given)))
        if not usable:
            raise ValueError(f"rank_slowdowns must be {n_ranks} finite numbers > 0 (one per "
                             f"rank); got {np.ravel(rank_slowdowns).tolist()[:20]}")
        # (the walk goes from the last rank to the first, as the cells)
        factors = [float(v) for v in given[::-1]]
        fastest, slowest, spread = min(factors), max(factors), sum(1.0 / v for v in factors)
    lo = max(fastest * cell, m * walk.row / spread) if m else 0.0
    # One rank computes everything (with room for rounding).
    hi = m * walk.row * slowest * (1.0 + 1e-9)
    cuts = walk.cuts(lo, n_ranks, factors)
    if cuts is None:
        while hi - lo > rel_tol * hi:
            mid = 0.5 * (lo + hi)
            if walk.cuts(mid, n_ranks, factors) is None:
                lo = mid
            else:
                hi = mid
        cuts = walk.cuts(hi, n_ranks, factors)
    if cuts is None:  # cannot happen (hi fits everything in one run); be safe regardless
        cuts = [0] + [walk.total] * n_ranks
    return walk.total - np.array(cuts[::-1], dtype=np.int64)


class _Walk:
    """Greedy runs of cells, each as long as a capacity allows (the feasibility test).

    Plain Python floats and :func:`bisect.bisect_right` (the same float64 arithmetic and the
    same answers as numpy's ``searchsorted(side="right")``): the walk makes one scalar search
    per rank and bisection step, where numpy's per-call overhead was most of the planning
    time, which every rank waits for (``benchmarks/planning.py``: 0.74 ms at 32 ranks and
    4.75 ms at 256 with numpy, 0.23 and 1.23 ms now).
    """

    def __init__(self, m: int, call: float, w: np.ndarray):
        self.m, self.call, self.B = m, float(call), w.size
        self.prefix = np.concatenate([[0.0], np.cumsum(w)]).tolist()
        self.W = self.prefix[-1]
        self.row = self.call + self.W  # one whole point
        self.total = m * self.B

    def extend(self, pos: int, capacity: float) -> int:
        """Where a run starting at cell ``pos`` ends when its cost may reach ``capacity``."""
        B, P, call = self.B, self.prefix, self.call
        point, block = divmod(pos, B)
        rest_of_point = call + (self.W - P[block])
        if rest_of_point > capacity:  # the run ends inside this point
            if capacity <= call:
                return pos
            end = bisect_right(P, P[block] + (capacity - call)) - 1
            return point * B + min(end, B)
        left = capacity - rest_of_point
        point += 1
        whole = min(int(left // self.row), self.m - point) if self.row > 0 else self.m - point
        point += whole
        left -= whole * self.row
        if point >= self.m or left <= call:
            return min(point, self.m) * B
        end = bisect_right(P, left - call) - 1
        return point * B + min(end, B)

    def cuts(self, capacity: float, n_ranks: int,
             slowdowns: list[float] | None = None) -> list[int] | None:
        """Cuts of runs of at most ``capacity`` each, or None when n_ranks runs cannot do.

        ``slowdowns``: each run's rank takes this many times as long (in walking order); a run
        may then be empty (a slow rank), where with equal ranks an empty run means that no
        rank can take the next cell.
        """
        cuts, pos, total, extend = [0], 0, self.total, self.extend
        for k in range(n_ranks):
            if pos < total:
                new = extend(pos, capacity if slowdowns is None else capacity / slowdowns[k])
                if new == pos and slowdowns is None:
                    return None  # (ranks alike: no other rank can take the cell either)
                pos = new
            cuts.append(pos)
        return cuts if pos >= total else None
