"""Measured load balance: a cost model of the model, and the layouts rank 0 chooses from it.

The cost model: one model call on blocks ``[b0, b1)`` of one point takes

    c + w[b0] + ... + w[b1 - 1]   seconds,

a fixed cost per call ``c`` (PHOEBE builds a mesh in every call, 0.3-0.5 s) and a cost per
block ``w[b]`` (a mesh model costs more in eclipse than out of it). The ranks measure it as
the fit runs: each rank times each of its pieces (:mod:`.layout`) and sends the seconds with
its sums; once, in the first round, ranks also time one call on a single block after them
(a *probe*, on a process the pieces warmed up; the ranks with fewer calls than the busiest,
see :func:`.layout.probe_blocks`, so that the probe does not lengthen the round), which
gives ``c`` (taken
from the kept probes again after every update while the model learns, as the blocks'
estimates improve). A piece of k calls that took s seconds says that its blocks cost
``s / k - c`` per call; the blocks' costs are fitted to all of a round's pieces (keeping
the shape learnt so far where the pieces cannot tell) and blended with the previous
estimate.

From the model, :func:`.layout.best_cuts` chooses the layout whose slowest rank is fastest
among all runs of cells in point-major order: each rank's run pays ``c`` once for every point
it touches. A large ``c`` gives whole points per rank (and, with more ranks than points, each
point split over as few ranks as balance allows); a small ``c`` gives each rank a range of
blocks of one or two points; the cost per block moves the boundaries. Rank 0 re-plans between
iterations of the optimizer (at most once per iteration and batch size) when the measured
costs have changed, and switches when the new layout's slowest rank is predicted at least
5 % faster; in the first rounds (while the model learns, and right after the probe) any
predicted gain will do. None of this changes a bit of any value (see :mod:`.layout`); it
only decides who computes what.

The imbalance of a round is the slowest rank's model seconds over the mean rank's; over
several rounds, the sum of the slowest over the sum of the means (the share of the wall time
lost to waiting). :class:`BalanceReport` gives it before the first rebalancing and over the
last rounds.
"""

from __future__ import annotations

import statistics
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

from .layout import CELLS, TRAILER, Layout, best_cuts, probe_blocks

__all__ = ["BalanceReport", "CostModel", "FixedSharing", "MeasuredSharing", "Sharing"]

#: A new layout replaces the current one only when its slowest rank is predicted at least
#: this much faster (measurements are noisy; layouts should not flicker).
REBALANCE_GAIN = 0.95
#: Weight of a round's measurements in the cost model, after the first two.
BLEND = 0.25
#: After the first two rounds, a piece's seconds count as at most this factor from what the
#: model expects (more is a stall of its rank, not a cost).
OUTLIER = 3.0
#: After the first rounds, updating the model and planning may take at most this share of
#: the rounds' time (a fast model is measured and re-planned less often). Every other rank
#: waits while rank 0 does it, so it costs the whole job that share.
BOOKKEEPING_SHARE = 0.005
#: Rounds measured in full at the start, whatever they cost (the model learns then).
LEARNING_ROUNDS = 10
#: Multiplicative sweeps that fit the blocks' costs to one round's pieces.
SWEEPS = 30
#: Rounds over which the final imbalance is reported.
RECENT_ROUNDS = 10
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
        self._probes: tuple[np.ndarray, np.ndarray] | None = None  # blocks, seconds

    def prefix(self) -> np.ndarray:
        """Cumulative block costs, ``prefix[b] = w[0] + ... + w[b - 1]``."""
        if self._prefix is None or self._prefix[0] != self.version:
            self._prefix = (self.version,
                            np.concatenate([[0.0], np.cumsum(self.block_seconds)]))
        return self._prefix[1]

    def predict(self, layout: Layout) -> np.ndarray:
        """Predicted model seconds of each rank for a layout."""
        table = layout.piece_table()
        P = self.prefix()
        seconds = table[:, 2] * (self.call_seconds + P[table[:, 4]] - P[table[:, 3]])
        return np.bincount(table[:, 0], weights=seconds, minlength=layout.n_ranks)

    def update(self, layout: Layout, piece_seconds: np.ndarray) -> None:
        """Learn from one round: ``piece_seconds[r, k]`` is rank r's k-th piece's seconds.

        The pieces' ends cut the blocks into *atoms*; each piece says what the atoms it
        covers cost together. Pieces of different points end at different blocks, so one
        round already says more than any single piece: the atoms' costs are fitted to all
        the round's pieces at once by simultaneous multiplicative updates (SMART: Byrne,
        "Iterative image reconstruction algorithms based on cross-entropy minimization",
        IEEE Trans. Image Process. 2, 1993), starting from the current estimate, whose shape
        inside each atom is kept. The result is blended with the previous estimate.
        """
        table = layout.piece_table()
        finite = np.isfinite(piece_seconds[table[:, 0], table[:, 1]])
        if not finite.all():  # (never from a clock; one would poison every estimate for good)
            table = table[finite]
        if not len(table):
            return
        rank, slot, calls, first, last = table.T
        per_call = piece_seconds[rank, slot] / calls
        P = self.prefix()
        if self.updates >= 2:
            # A piece can take far longer than its cost when its rank was descheduled (a
            # shared machine): one round moves an estimate by a factor of OUTLIER at most.
            expected = self.call_seconds + P[last] - P[first]
            per_call = np.clip(per_call, expected / OUTLIER, expected * OUTLIER)
        # The blocks' share of a call; never all of it vanishing into a mis-measured c.
        target = np.maximum(per_call - self.call_seconds, 0.05 * per_call)
        bounds = _distinct(np.concatenate([first, last]))
        start, stop = np.searchsorted(bounds, first), np.searchsorted(bounds, last)
        old = np.maximum(np.diff(P[bounds]), 1e-300)  # each atom's cost
        n = bounds.size
        # np.bincount adds in the order given, as np.add.at did (the same bits), at a
        # fraction of its cost: the sweeps run while every other rank waits.
        ends = np.concatenate([start, stop])
        counted = np.cumsum(np.bincount(ends, np.concatenate([calls, -calls]), n))[:-1]
        covered = counted > 0.5
        counted = counted[covered]
        atoms = old.copy()
        cumulative = np.zeros(n)
        for _ in range(SWEEPS):
            np.cumsum(atoms, out=cumulative[1:])
            factor = calls * target / np.maximum(cumulative[stop] - cumulative[start], 1e-300)
            weighted = np.bincount(ends, np.concatenate([factor, -factor]), n)
            atoms[covered] *= np.cumsum(weighted)[:-1][covered] / counted
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

        The fixed cost is the median over the ranks of the probe less its block's estimate,
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
            ranks that do not probe (-1 there) are ignored.
        """
        before = self.block_seconds, self.updates
        blocks = probe_blocks(layout)
        probed = blocks >= 0
        self._probes = (blocks[probed], probe_seconds[probed])
        self.call_seconds = 0.0
        for _ in range(CALIBRATION_PASSES):
            self.update(layout, piece_seconds)
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
        blocks, seconds = self._probes
        samples = seconds - self.block_seconds[blocks]
        samples = samples[np.isfinite(samples)]
        if samples.size:
            # statistics.median: np.median's first call imports numpy.ma (see _distinct)
            self.call_seconds = max(0.0, float(statistics.median(samples.tolist())))
            self.version += 1

    def best_layout(self, m: int, n_ranks: int) -> Layout:
        """The layout :func:`best_cuts` chooses for a batch of m points."""
        cuts = best_cuts(m, n_ranks, self.call_seconds, self.block_seconds)
        return Layout(CELLS, m, self.block_seconds.size, cuts)


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted.

    ``np.unique`` without its first call's import of ``numpy.ma`` (numpy 2.4-2.5), which took
    25 ms here and 80 ms on a 16-core machine, in the first measured round, while every other
    rank waited (and then, expecting such gaps, woke up late for the next two rounds).
    """
    ordered = np.sort(values)
    return ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])]


@dataclass(frozen=True)
class BalanceReport:
    """How evenly the ranks' model time was spread.

    Attributes
    ----------
    sharing : str
        The sharing used: ``'auto'``, ``'blocks'`` or ``'points'``.
    imbalance_before : float
        Slowest over mean rank model time (summed over rounds) before the first rebalancing,
        or over the whole fit when there was none. 1 is perfect balance.
    imbalance_after : float
        The same over the last rounds (at most 10).
    rebalances : int
        Times a layout was replaced by a better-balanced one.
    """

    sharing: str
    imbalance_before: float
    imbalance_after: float
    rebalances: int

    def as_dict(self) -> dict:
        """The fields, for a result object."""
        return asdict(self)


def _ratio(slowest: float, mean: float) -> float:
    return slowest / mean if mean > 0 else 1.0


class Sharing(ABC):
    """Rank 0's choice of a layout for each batch, and its record of the ranks' times.

    Parameters
    ----------
    name : str
        What the user asked for (reported).
    n_ranks, n_blocks : int
        The grid's ranks and blocks.
    """

    def __init__(self, name: str, n_ranks: int, n_blocks: int):
        self.name, self.n_ranks, self.n_blocks = name, n_ranks, n_blocks
        self.rebalances = 0
        self.iteration = 0  # iterations of the optimizer ended so far
        self._before = [0.0, 0.0]  # slowest, mean: summed over rounds before a rebalancing
        self._recent: deque = deque(maxlen=RECENT_ROUNDS)
        self._since = [0.0, 0.0]  # since the last progress()
        # batch size -> the slowest rank's seconds in the last rounds of that size
        self._makespans: dict[int, deque] = {}

    @abstractmethod
    def layout(self, m: int) -> Layout:
        """The layout for the next batch of m points."""

    def wants_probe(self) -> bool:
        """Whether ranks time a one-block call in this round (:func:`.layout.probe_blocks`)."""
        return False

    def predicted_seconds(self, layout: Layout) -> float | None:
        """The slowest rank's model seconds expected for this layout (None: unknown)."""
        recent = self._makespans.get(layout.m)
        # The median: a rank descheduled for a while in one round does not move it.
        return sorted(recent)[len(recent) // 2] if recent else None

    def record(self, layout: Layout, trailers: np.ndarray) -> None:
        """Take note of a completed round: every rank's trailer (see :data:`~.layout.TRAILER`)."""
        piece_seconds = trailers[:, 1:TRAILER - 1]
        rank_seconds = piece_seconds.sum(axis=1)
        slowest, mean = float(rank_seconds.max()), float(rank_seconds.mean())
        if self.rebalances == 0:
            self._before[0] += slowest
            self._before[1] += mean
        self._recent.append((slowest, mean))
        self._since[0] += slowest
        self._since[1] += mean
        self._makespans.setdefault(layout.m, deque(maxlen=5)).append(slowest)
        self._learn(layout, piece_seconds, trailers[:, TRAILER - 1], slowest)

    def _learn(self, layout: Layout, piece_seconds: np.ndarray, probe_seconds: np.ndarray,
               slowest: float) -> None:
        """Update what the sharing knows of the costs (nothing, for a fixed sharing)."""
        return

    def end_iteration(self) -> dict:
        """An iteration ended: the imbalance of its rounds (for its progress line)."""
        value = _ratio(*self._since)
        self._since = [0.0, 0.0]
        self.iteration += 1
        return {"imbalance": value}

    def report(self) -> BalanceReport:
        """Imbalance before the first rebalancing and over the last rounds."""
        recent = [sum(v) for v in zip(*self._recent, strict=True)] or [0.0, 0.0]
        return BalanceReport(self.name, _ratio(*self._before), _ratio(*recent),
                             self.rebalances)


class FixedSharing(Sharing):
    """The same layout for every batch of a size: whole points, or block ranges.

    Parameters
    ----------
    name : {'points', 'blocks'}
        Whole points per rank, or every point on a fixed range of blocks per rank.
    n_ranks, n_blocks : int
        The grid's ranks and blocks.
    """

    def __init__(self, name: str, n_ranks: int, n_blocks: int):
        super().__init__(name, n_ranks, n_blocks)
        self._make = Layout.whole_points if name == "points" else Layout.block_ranges
        self._layouts: dict[int, Layout] = {}

    def layout(self, m: int) -> Layout:
        """The fixed layout for m points."""
        if m not in self._layouts:
            self._layouts[m] = self._make(m, self.n_blocks, self.n_ranks)
        return self._layouts[m]


class MeasuredSharing(Sharing):
    """Layouts chosen from the measured cost model, re-planned as measurements come in.

    Parameters
    ----------
    n_ranks : int
        The ranks sharing the grid.
    block_sizes : ndarray, shape (B,)
        Observations per block (the cost's shape until measured).
    """

    #: The round whose ranks time a probe. The first: its pieces pay for any first call's
    #: imports and warm-up before the probe, and every later round runs on a layout that
    #: knows the fixed cost (with the probe in the second round, that round also ran a
    #: layout planned without it; ``benchmarks/results/2-cores/probe_round_timelines.log``).
    PROBE_ROUND = 1

    def __init__(self, n_ranks: int, block_sizes: np.ndarray):
        super().__init__("auto", n_ranks, len(block_sizes))
        self.model = CostModel(block_sizes)
        # m -> (layout, the model version and the iteration it was planned with)
        self._layouts: dict[int, tuple[Layout, int, int]] = {}
        self._rounds = 0
        self._work = 0.0  # the rounds' slowest-rank seconds so far (paces the bookkeeping)
        self._next_update = 0.0
        self._next_plan = 0.0
        self._predicted: tuple = (None, 0.0)  # ((layout id, model version), seconds)
        self._due = 0  # layouts planned with an earlier model version are re-planned now

    def layout(self, m: int) -> Layout:
        """The current layout for m points, re-planned first when that is due."""
        entry = self._layouts.get(m)
        if entry is None:
            layout = self._plan(m)
            self._layouts[m] = (layout, self.model.version, self.iteration)
            return layout
        layout, version, iteration = entry
        # At most once per iteration (and batch size): layouts change between iterations.
        # Two re-plans are due whenever they fall, and take any predicted gain: once the
        # fixed cost per call is measured (the first layout was planned without it, and a
        # large one makes it slow), and when the learning rounds end. While the model
        # learns, any predicted gain is taken too: a layout that stays tells the model
        # nothing new (its pieces' ends cut the blocks the same way), and one within 5 % of
        # the model's best would then stay for good.
        due = version < self._due
        learning = self._rounds <= LEARNING_ROUNDS
        if (version != self.model.version and (due or iteration != self.iteration)
                and (due or self._work >= self._next_plan)):
            candidate = self._plan(m)
            predicted = self.model.predict(layout).max()
            gain = 1.0 if due or learning else REBALANCE_GAIN
            if self.model.predict(candidate).max() < gain * predicted:
                layout = candidate
                self.rebalances += 1
            self._layouts[m] = (layout, self.model.version, self.iteration)
        return layout

    def _plan(self, m: int) -> Layout:
        t0 = time.perf_counter()
        layout = self.model.best_layout(m, self.n_ranks)
        if self._rounds > LEARNING_ROUNDS:
            self._next_plan = self._work + (time.perf_counter() - t0) / BOOKKEEPING_SHARE
        return layout

    def wants_probe(self) -> bool:
        """True in the round that measures the fixed cost per call."""
        return self._rounds + 1 == self.PROBE_ROUND

    def predicted_seconds(self, layout: Layout) -> float | None:
        """The cost model's slowest rank, or what such rounds took when that is less.

        Waiting ranks sleep until about then: an early guess costs a few polls, a late one
        the difference.
        """
        observed = super().predicted_seconds(layout)
        if self.model.updates == 0:
            return observed
        key = (id(layout), self.model.version)
        if self._predicted[0] != key:  # once per layout and model
            self._predicted = (key, float(self.model.predict(layout).max()))
        predicted = self._predicted[1]
        return predicted if observed is None else min(predicted, observed)

    def _learn(self, layout, piece_seconds, probe_seconds, slowest) -> None:
        self._rounds += 1
        self._work += slowest
        probed = self._rounds == self.PROBE_ROUND
        if self._work < self._next_update and self._rounds > LEARNING_ROUNDS:
            return
        t0 = time.perf_counter()
        if probed:
            self.model.calibrate_call(layout, piece_seconds, probe_seconds)
        else:
            self.model.update(layout, piece_seconds)
            if self._rounds <= LEARNING_ROUNDS:
                self.model.recalibrate()
        spent = time.perf_counter() - t0
        self._next_update = self._work + spent / BOOKKEEPING_SHARE
        if probed or self._rounds == LEARNING_ROUNDS:
            self._due = self.model.version
