"""Measured load balance: the layouts rank 0 chooses from the measured cost model.

The cost model (:mod:`.costs`) gives each model call's cost: a fixed cost per call, a cost
per block and each rank's slowdown, measured as the fit runs.

From the model, :func:`.layout.best_cuts` chooses the layout whose slowest rank is fastest
among all runs of cells in point-major order: each rank's run pays ``c`` once for every point
it touches. A large ``c`` gives whole points per rank (and, with more ranks than points, each
point split over as few ranks as balance allows); a small ``c`` gives each rank a range of
blocks of one or two points; the cost per block moves the boundaries; a slow rank gets less
(a rank's run is as long as its slowdown allows). Rank 0 re-plans between
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

import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

from .costs import CostModel
from .layout import TRAILER, Layout

__all__ = ["BalanceReport", "CostModel", "FixedSharing", "MeasuredSharing", "Sharing"]

#: A new layout replaces the current one only when its slowest rank is predicted at least
#: this much faster (measurements are noisy; layouts should not flicker).
REBALANCE_GAIN = 0.95
#: After the first rounds, updating the model and planning may take at most this share of
#: the rounds' time (a fast model is measured and re-planned less often). Every other rank
#: waits while rank 0 does it, so it costs the whole job that share.
BOOKKEEPING_SHARE = 0.005
#: Rounds measured in full at the start, whatever they cost (the model learns then).
LEARNING_ROUNDS = 10
#: Rounds over which the final imbalance is reported.
RECENT_ROUNDS = 10


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
