"""Fixed blocks of observations, and the one place block sums are added.

The observations are cut into blocks whose size does not depend on the number of ranks.
Every objective value is the sum of per-block sums added in block order, so it has the same
bits whichever rank computed which block (:mod:`.layout` decides that).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DEFAULT_BLOCK_SIZE", "DEFAULT_MAX_BLOCKS", "DEFAULT_MIN_BLOCKS", "block_edges",
           "block_ranges", "sum_blocks"]

#: By default a light curve is cut into blocks of ``ceil(n / 256)`` observations (about 256
#: blocks, or one per observation), as mpicg always did: the results of light curves of up to
#: 5,120 observations keep their bits from earlier versions ...
DEFAULT_MIN_BLOCKS = 256
#: ... and blocks hold at most this many observations, so that larger light curves get more
#: blocks (work for more ranks, layouts fine enough to balance a cost that varies in time) ...
DEFAULT_BLOCK_SIZE = 20
#: ... up to this many blocks. With m points per batch that is m x 4096 cells to share, work
#: for thousands of ranks; rank 0 still gathers only m x 4096 numbers (32 kB per point),
#: however many observations there are.
DEFAULT_MAX_BLOCKS = 4096


def block_edges(n_items: int, block_size: int | None = None) -> np.ndarray:
    """Edges of the blocks of ``n_items`` observations: block b is ``[e[b], e[b+1])``.

    Parameters
    ----------
    n_items : int
        Number of observations.
    block_size : int, optional
        Observations per block (the last block may be shorter). By default it depends on
        the data, never on the ranks: ``ceil(n_items / 256)`` up to 5,120 observations (256
        blocks), 20 up to 81,920 (up to 4096 blocks), ``ceil(n_items / 4096)`` beyond.

    Returns
    -------
    ndarray of int64
        ``n_blocks + 1`` increasing edges from 0 to ``n_items``.
    """
    if block_size is None:
        block_size = max(1, min(math.ceil(n_items / DEFAULT_MIN_BLOCKS),
                                max(DEFAULT_BLOCK_SIZE,
                                    math.ceil(n_items / DEFAULT_MAX_BLOCKS))))
    edges = np.arange(0, n_items, block_size, dtype=np.int64)
    return np.append(edges, np.int64(n_items))


def block_ranges(n_blocks: int, n_ranks: int) -> list[tuple[int, int]]:
    """Contiguous ranges ``[first, last)`` of ``n_blocks`` items per rank, as even as possible.

    Ranks beyond the number of items get empty ranges.
    """
    base, extra = divmod(n_blocks, n_ranks)
    ranges, first = [], 0
    for rank in range(n_ranks):
        last = first + base + (1 if rank < extra else 0)
        ranges.append((first, last))
        first = last
    return ranges


def sum_blocks(block_sums: np.ndarray) -> np.ndarray:
    """Add per-block sums in block order: one total per row of ``block_sums``.

    This is the only place block sums are added, on every path, serial or MPI; that is what
    makes the total independent of how blocks were spread over ranks.
    """
    # One 1-D sum per point, so a point's total does not depend on the batch it came in.
    return np.array([np.sum(np.ascontiguousarray(row, dtype=np.float64))
                     for row in np.atleast_2d(block_sums)])
