"""The cost model of a fit's model calls, measured as the fit runs (rank 0 plans with it).

One model call on blocks ``[b0, b1)`` of one point, on rank r, takes

    s[r] * (c + w[b0] + ... + w[b1 - 1])   seconds:

a fixed cost per call ``c`` (PHOEBE builds a mesh in every call, 0.3-0.5 s), a cost per
block ``w[b]`` (a mesh model costs more in eclipse than out of it), and each rank's
*slowdown* ``s[r]``: how many times as long the rank takes as the median rank (1 for most;
above 1 for a slower core, or one shared with another job). The ranks measure it as the fit
runs: each rank times each of its pieces (:mod:`.layout`) and sends the seconds with its
sums; once, in the first round, ranks also time one call on a single block after them (a
*probe*, on a process the pieces warmed up; where at least five ranks can be spared, only
those with fewer calls than the busiest, see :func:`.layout.probe_blocks`, so that the probe
lengthens the round by a block at most), which gives ``c`` (taken from the kept probes again
after every update while the model learns, as the blocks' estimates improve). A piece of k
calls that took t seconds on rank r says that its blocks cost ``t / (k s[r]) - c`` per call;
the blocks' costs are fitted to all of a round's pieces (keeping the shape learnt so far
where the pieces cannot tell) and blended with the previous estimate.

The slowdowns come from the rounds' overlaps, the same blocks computed on different ranks
(:mod:`.slowdowns`); only the slowdowns that count (:meth:`CostModel.rank_slowdowns`) divide
the pieces' seconds when the blocks' costs are fitted.
"""

from __future__ import annotations

import statistics

import numpy as np

from .layout import CELLS, Layout, best_cuts, probe_blocks
from .slowdowns import RankSlowdowns

__all__ = ["CostModel"]

#: Weight of a round's measurements in the cost model, after the first two (the blocks'
#: costs; the ranks' slowdowns from their first).
BLEND = 0.25
#: After the first two rounds, a piece's seconds count as at most this factor from what the
#: model expects (more is a stall of its rank, not a cost).
OUTLIER = 3.0
#: Multiplicative sweeps that fit the blocks' costs to one round's pieces.
SWEEPS = 30
#: Alternations of the blocks' and the call's estimates in the round with the probe. Each
#: pass shrinks what the blocks still hold of the call by the probed block's share of its
#: piece (with pieces of 2 blocks, c comes out 1/8 low after three passes, 1/2 after one).
CALIBRATION_PASSES = 3


class CostModel:
    """Seconds per model call (fixed) and per block, measured as the fit runs.

    Parameters
    ----------
    block_sizes : ndarray, shape (B,)
        Observations in each block: the shape of the cost until it is measured.

    Attributes
    ----------
    call_seconds : float
        The fixed cost of one call.
    block_seconds : ndarray, shape (B,)
        The cost of each block in one call.
    slowdowns : RankSlowdowns or None
        Each rank's slowdown (:mod:`.slowdowns`; :meth:`rank_slowdowns` gives what the model
        uses); None until the first update.
    version : int
        Increases with every change (rank 0 re-plans when it has changed).
    """

    def __init__(self, block_sizes: np.ndarray):
        sizes = np.asarray(block_sizes, dtype=np.float64)
        self.call_seconds = 0.0
        self.block_seconds = sizes * 1e-6  # any scale: the first measurement replaces it
        self.updates = 0
        self.version = 0
        self._prefix: tuple[int, np.ndarray] | None = None
        self._probes: tuple | None = None  # blocks, seconds, ranks
        self.slowdowns: RankSlowdowns | None = None  # from the first update on

    def prefix(self) -> np.ndarray:
        """Cumulative block costs, ``prefix[b] = w[0] + ... + w[b - 1]``."""
        if self._prefix is None or self._prefix[0] != self.version:
            self._prefix = (self.version,
                            np.concatenate([[0.0], np.cumsum(self.block_seconds)]))
        return self._prefix[1]

    def rank_slowdowns(self) -> np.ndarray | None:
        """Each rank's slowdown as the model uses it (a factor on its seconds); None: all 1.

        See :meth:`.slowdowns.RankSlowdowns.factors`.
        """
        return None if self.slowdowns is None else self.slowdowns.factors()

    def predict(self, layout: Layout) -> np.ndarray:
        """Predicted model seconds of each rank for a layout."""
        table = layout.piece_table()
        P = self.prefix()
        seconds = table[:, 2] * (self.call_seconds + P[table[:, 4]] - P[table[:, 3]])
        ranks = np.bincount(table[:, 0], weights=seconds, minlength=layout.n_ranks)
        factors = self.rank_slowdowns()
        return ranks if factors is None else ranks * factors

    def update(self, layout: Layout, piece_seconds: np.ndarray,
               slowdowns: bool = True) -> None:
        """Learn from one round: ``piece_seconds[r, k]`` is rank r's k-th piece's seconds.

        The pieces' ends cut the blocks into *atoms*; each piece says what the atoms it
        covers cost together. Pieces of different points end at different blocks, so one
        round already says more than any single piece: the atoms' costs are fitted to all
        the round's pieces at once by simultaneous multiplicative updates (SMART: Byrne,
        "Iterative image reconstruction algorithms based on cross-entropy minimization",
        IEEE Trans. Image Process. 2, 1993), starting from the current estimate, whose shape
        inside each atom is kept. The result is blended with the previous estimate.

        First (from the second update on, when ``slowdowns``), the ranks' slowdowns: see
        :meth:`.slowdowns.RankSlowdowns.learn`; every piece's seconds are then divided by its
        rank's slowdown (:meth:`rank_slowdowns`).

        Parameters
        ----------
        layout : Layout
            The round's layout.
        piece_seconds : ndarray, shape (n_ranks, 3)
            Each rank's pieces' seconds, in the order of :meth:`.Layout.pieces`; entries
            beyond a rank's pieces are ignored, and so are non-finite ones and ones <= 0.
        slowdowns : bool
            Learn the ranks' slowdowns from this round too.
        """
        table = layout.piece_table()
        measured = piece_seconds[table[:, 0], table[:, 1]]
        valid = np.isfinite(measured) & (measured > 0)
        if not valid.all():  # (never from a clock; one would poison every estimate for good)
            table = table[valid]
        if not len(table):
            return
        rank, slot, calls, first, last = table.T
        seconds = piece_seconds[rank, slot]
        P = self.prefix()
        if self.slowdowns is None:
            self.slowdowns = RankSlowdowns(layout.n_ranks, BLEND, OUTLIER)
        bounds = _distinct(np.concatenate([first, last]))
        start, stop = np.searchsorted(bounds, first), np.searchsorted(bounds, last)
        old = np.maximum(np.diff(P[bounds]), 1e-300)  # each atom's cost
        n = bounds.size
        # np.bincount adds in the order given, as np.add.at did (the same bits), at a
        # fraction of its cost: the sweeps run while every other rank waits.
        ends = np.concatenate([start, stop])
        counted = np.cumsum(np.bincount(ends, np.concatenate([calls, -calls]), n))[:-1]
        blocks = P[last] - P[first]
        if slowdowns and self.updates >= 1:  # (the first round's pieces hold the warm-ups)
            self.slowdowns.learn(self.call_seconds, rank, calls, start, stop, ends, old,
                                 counted, blocks, seconds)
        per_call = seconds / calls
        factors = self.rank_slowdowns()
        if factors is not None:
            per_call = per_call / factors[rank]
        if self.updates >= 2:
            # A piece can take far longer than its cost when its rank was descheduled (a
            # shared machine): one round moves an estimate by a factor of OUTLIER at most.
            expected = self.call_seconds + P[last] - P[first]  # (as before: the same bits)
            per_call = np.clip(per_call, expected / OUTLIER, expected * OUTLIER)
        # The blocks' share of a call; never all of it vanishing into a mis-measured c.
        target = np.maximum(per_call - self.call_seconds, 0.05 * per_call)
        covered = counted > 0.5
        counted = counted[covered]
        atoms = old.copy()
        cumulative = np.zeros(n)
        for _ in range(SWEEPS):  # (ndarray.cumsum: np.cumsum's wrapper cost a tenth here)
            atoms.cumsum(out=cumulative[1:])
            factor = calls * target / np.maximum(cumulative[stop] - cumulative[start], 1e-300)
            weighted = np.bincount(ends, np.concatenate([factor, -factor]), n)
            atoms[covered] *= weighted.cumsum()[:-1][covered] / counted
        new = self.block_seconds.copy()
        new[bounds[0]:bounds[-1]] *= np.repeat(atoms / old, np.diff(bounds))
        # The first measurements replace the guess; later ones are averaged (timings of a
        # shared machine vary by tens of per cent from round to round).
        blend = 1.0 if self.updates < 2 else BLEND
        self.block_seconds = np.maximum((1.0 - blend) * self.block_seconds + blend * new,
                                        1e-12)
        self.updates += 1
        self.version += 1

    def calibrate_call(self, layout: Layout, piece_seconds: np.ndarray,
                       probe_seconds: np.ndarray) -> None:
        """Learn from the round whose ranks also timed a probe: one call on one block.

        The fixed cost is the median over the probing ranks of the probe (divided by the
        rank's slowdown, when known) less its block's estimate,
        and the blocks' estimates come from the round's pieces less the fixed cost: each
        depends on the other. So: the round's update with c = 0 (the blocks then hold the
        calls' cost, spread over each piece's blocks), c from the probes (low by the probed
        block's share of the call), and again from the state before the round,
        CALIBRATION_PASSES times in all; then the update with the final c. The probes are
        kept: :meth:`recalibrate` takes c from them again as the blocks' estimates improve.
        (Estimating the probe's block from the rank's own piece instead, exact when the
        piece's blocks cost alike, overestimated c several-fold when they do not, e.g. a
        piece that starts in an eclipse, and kept points whole that should have been shared.)

        Parameters
        ----------
        layout : Layout
            The round's layout.
        piece_seconds : ndarray, shape (n_ranks, 3)
            Each rank's pieces' seconds (as for :meth:`update`).
        probe_seconds : ndarray, shape (n_ranks,)
            Each rank's probe, on the block :func:`.layout.probe_blocks` names; the entries of
            ranks that do not probe (-1 there) are ignored, and so are non-finite ones and
            ones <= 0.
        """
        before = self.block_seconds, self.updates
        blocks = probe_blocks(layout)
        probed = (blocks >= 0) & np.isfinite(probe_seconds) & (probe_seconds > 0)
        self._probes = (blocks[probed], probe_seconds[probed], np.flatnonzero(probed))
        self.call_seconds = 0.0
        for _ in range(CALIBRATION_PASSES):
            self.update(layout, piece_seconds, slowdowns=False)
            self.recalibrate()
            self.block_seconds, self.updates = before
            self.version += 1
        self.update(layout, piece_seconds)

    def recalibrate(self) -> None:
        """The fixed cost again from the kept probes, with the blocks' current estimates.

        Each probed block is known only as well as the pieces have cut the blocks around it:
        in the first round its estimate is its piece's average (a piece of one block leaves
        c unknown: it comes out 0), and later rounds' layouts, cut elsewhere, and warm
        processes (a first call's warm-up inflates the first round's pieces, and with them
        the estimates subtracted) refine it.
        """
        if self._probes is None:
            return
        blocks, seconds, ranks = self._probes
        factors = self.rank_slowdowns()
        if factors is not None:  # (a slow rank's probe took longer)
            seconds = seconds / factors[ranks]
        samples = seconds - self.block_seconds[blocks]
        samples = samples[np.isfinite(samples)]
        if samples.size:
            # statistics.median: np.median's first call imports numpy.ma (see _distinct)
            self.call_seconds = max(0.0, float(statistics.median(samples.tolist())))
            self.version += 1

    def best_layout(self, m: int, n_ranks: int) -> Layout:
        """The layout :func:`best_cuts` chooses for a batch of m points."""
        cuts = best_cuts(m, n_ranks, self.call_seconds, self.block_seconds,
                         rank_slowdowns=self.rank_slowdowns())
        return Layout(CELLS, m, self.block_seconds.size, cuts)


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted.

    ``np.unique`` without its first call's import of ``numpy.ma`` (numpy 2.4-2.5), which took
    25 ms here and 80 ms on a 16-core machine, in the first measured round, while every other
    rank waited (and then, expecting such gaps, woke up late for the next two rounds).
    """
    ordered = np.sort(values)
    return ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])]
