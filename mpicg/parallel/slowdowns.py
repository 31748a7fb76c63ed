"""Each rank's slowdown, learnt from the rounds' overlaps (for the cost model, :mod:`.costs`).

A rank's *slowdown* is how many times as long it takes as the median rank on the same work
(1 for most; above 1 for a slower core, or one shared with another job). The pieces of a
batch's points cover the same blocks on different ranks (point i's blocks 100-150 on rank 3,
point j's on rank 7), so a rank that takes longer than the others on the same blocks is
slower (:meth:`RankSlowdowns.learn`). A rank whose blocks no other rank computes (batches of
one point) says nothing of its slowdown. A rank without cells is not measured at all, so its
slowdown is forgotten a little at every update (:data:`FORGET`): a rank that was slow only
for a while (a neighbour's job ended) gets cells again and is measured again; one that is
still slow then costs the rounds it takes to learn that again. Where the cost model has the
blocks' costs wrong (the edges of an eclipse, early on), a rank can look a few per cent slow
or fast; such slowdowns, and those that the measurements' scatter could explain, count as 1
(:meth:`RankSlowdowns.factors`). Timing noise still leaves a spurious slowdown now and then
(more often with many ranks and heavy noise); in ``benchmarks/balance_sweep.py`` such runs'
layouts were within 0.3 % of those without slowdowns on average. Measured with
``balance_sweep.py --slow-rank 1.3``.
"""

from __future__ import annotations

import math
import statistics

import numpy as np

__all__ = ["RankSlowdowns"]

#: A round tells a rank's slowdown only when other ranks computed at least this share of the
#: cost of its blocks (on other points).
MIN_OVERLAP = 0.25
#: Log-slowdowns (after the shrinking) within this of 0 count as 0: ranks that differ by
#: less than 3 % are not told apart (see :meth:`RankSlowdowns.factors`).
SLOWDOWN_DEADBAND = 0.03
#: A slowdown counts in full only when its deviation from 1 is well beyond what the scatter
#: of its rounds' estimates could give: ``log s`` is shrunk by
#: ``1 - SLOWDOWN_SHRINK var / log(s)^2``
#: (var: the variance of the blended estimate; 9: three standard deviations. With 4, 10 %
#: timing noise and ranks alike, the final layouts came out 0.15 % slower on
#: average in ``benchmarks/balance_sweep.py``; with 16, a rank 1.3 times slower was found
#: too late in noisy configurations).
SLOWDOWN_SHRINK = 9.0
#: The share of its log-slowdown a rank without cells forgets at each update: slowly, as a
#: rank that stays slow gets cells again when it has forgotten enough, and is slow then (an
#: eighth cost a rank three times as slow, with 3 ranks and 3 points, 22 % over the optimum
#: on average, a reviewer found; a thirty-second, see tests/test_sharing.py).
FORGET = 1.0 / 32

_UNSET = object()  # factors() not computed since the last change


class RankSlowdowns:
    """Each rank's slowdown, as learnt (a logarithm) and as the cost model uses it.

    Parameters
    ----------
    n_ranks : int
        The ranks.
    blend : float
        Weight of a round's estimate after the first (the cost model's ``BLEND``).
    outlier : float
        A piece's measured over expected seconds, and a slowdown, count as at most this
        factor either way (the cost model's ``OUTLIER``): a stall, or a model that returned at
        once (one that caches repeated points), is not a slowdown, and a rank whose timings
        say it is a thousand times faster must not take every cell, and then never be
        measured again.

    Attributes
    ----------
    log : ndarray, shape (n_ranks,)
        Each rank's slowdown as learnt, a logarithm (0: as fast as the median rank).
    variance : ndarray, shape (n_ranks,)
        The scatter of each rank's round estimates (see :meth:`factors`).
    """

    def __init__(self, n_ranks: int, blend: float, outlier: float):
        self.blend, self.outlier = blend, outlier
        self.log = np.zeros(n_ranks)
        self.variance = np.zeros(n_ranks)
        self._idle: np.ndarray | bool = False  # ranks without cells at the last update
        self._factors = _UNSET

    def factors(self) -> np.ndarray | None:
        """Each rank's slowdown as the cost model uses it (a factor on its seconds); None: all 1.

        A rank's blended log-slowdown is shrunk towards 0 by what the scatter of its estimates
        could explain (:data:`SLOWDOWN_SHRINK`), and taken as 0 within
        :data:`SLOWDOWN_DEADBAND`: with 10 % timing noise, or while the blocks' costs are
        still uncertain, the estimates of ranks alike scatter by a few per cent, and planning
        with those would move layouts for nothing (``benchmarks/balance_sweep.py``).

        Returns
        -------
        ndarray, shape (n_ranks,), or None
            Factors > 0 (at most ``outlier`` from 1 either way).
        """
        if self._factors is _UNSET:
            factors = None
            log_s = self.log
            spread = self.variance * self.blend / (2.0 - self.blend)  # of the blended value
            kept = log_s * np.maximum(0.0, 1.0 - SLOWDOWN_SHRINK * spread
                                      / np.maximum(log_s * log_s, 1e-300))
            kept = np.where(np.abs(kept) > SLOWDOWN_DEADBAND, kept, 0.0)
            if np.any(kept):
                factors = np.exp(kept)
            self._factors = factors
        return self._factors

    def learn(self, call_seconds: float, rank: np.ndarray, calls: np.ndarray,
              start: np.ndarray, stop: np.ndarray, ends: np.ndarray, atoms: np.ndarray,
              covering: np.ndarray, blocks: np.ndarray, seconds: np.ndarray) -> None:
        """Each rank's slowdown from one round, compared with other pieces on its blocks.

        A piece's log-rate is the log of its seconds over what the model (before this round)
        expects of a rank as fast as the median: the rank's log-slowdown plus the model's
        error on those blocks (clipped to ``outlier`` either way: a stall, or a model
        that returned at once, is not a slowdown). The model's error is taken from the other
        pieces on the same atoms (their log-rates less their ranks' log-slowdowns, averaged
        over the atoms by cost, each atom's own piece left out; mostly other ranks' pieces,
        of other points, and a rank's own other pieces where they cover the same blocks,
        which slows the estimate but does not move where it settles), so that it cancels;
        what is left is the rank's log-slowdown, from this round. It is blended into the
        estimate (and its scatter into the estimate's variance, see :meth:`factors`)
        of each rank that shared at least :data:`MIN_OVERLAP` of its blocks' cost with other
        pieces; a rank without cells forgets :data:`FORGET` of its estimate; then the
        slowdowns are scaled so that the median measured rank's is 1, and bounded by
        ``outlier``.

        The pieces are given as :meth:`.CostModel.update` cuts them: ``rank`` each piece's
        rank, ``calls`` its calls, ``start``, ``stop`` its first and end atoms, ``ends``
        both, ``atoms`` each atom's cost, ``covering`` the calls on each atom, ``blocks`` each
        piece's blocks' cost, ``seconds`` its time (> 0: ``update`` leaves out the pieces
        whose time is no measurement); ``call_seconds`` is the model's fixed cost per call.
        """
        log_s, n_ranks = self.log, self.log.size
        total = np.bincount(rank, calls * blocks, n_ranks)
        idle = total <= 0
        log_s[idle] *= 1.0 - FORGET  # (no cells: not measured)
        returning = self._idle & ~idle  # measured again after a spell without cells
        self._idle = idle
        self._factors = _UNSET  # (factors() again, after the forgetting)
        if seconds.size < 2:
            return
        n = atoms.size
        limit = math.log(self.outlier)
        # Log-rates: the measured over the expected seconds, as logarithms; less the rank's
        # slowdown as the model holds it, the model's error on the piece's blocks.
        raw = np.clip(np.log(seconds / (np.maximum(calls, 1) * (call_seconds + blocks))),
                      -limit, limit)
        factors = self.factors()
        rates = raw if factors is None else raw - np.log(factors)[rank]
        added = np.cumsum(np.bincount(ends, np.concatenate([calls * rates, -calls * rates]),
                                      n))[:-1]  # per atom: the calls' log-rates, added
        others = np.zeros(rates.size)  # the other pieces' mean log-rate on a piece's atoms
        shared = np.zeros(rates.size)  # the cost of a piece's atoms that others computed
        sums = np.zeros((3, n + 1))
        for k in set(calls.tolist()):  # (a piece's own calls are left out of each atom)
            mine = calls == k
            elsewhere = covering > k + 0.5
            with_others = np.where(elsewhere, atoms, 0.0)
            per_call = with_others / np.where(elsewhere, covering - k, 1.0)
            # Prefix sums over atoms: of cost / others' calls, of that times the atom's
            # log-rates (own included: taken out below), of the cost others computed.
            np.cumsum(per_call, out=sums[0, 1:])
            np.cumsum(per_call * added, out=sums[1, 1:])
            np.cumsum(with_others, out=sums[2, 1:])
            a, b = start[mine], stop[mine]
            cost = sums[2, b] - sums[2, a]
            shared[mine] = cost
            own = k * rates[mine] * (sums[0, b] - sums[0, a])
            others[mine] = np.where(cost > 0, (sums[1, b] - sums[1, a] - own)
                                    / np.maximum(cost, 1e-300), 0.0)
        weight = calls * shared
        weights = np.bincount(rank, weight, n_ranks)
        told = (weights >= MIN_OVERLAP * total) & (weights > 0)
        if told.any():
            estimate = np.bincount(rank, weight * (raw - others), n_ranks)
            change = np.clip(estimate[told] / weights[told] - log_s[told], -limit, limit)
            variance = self.variance
            # A rank back from a spell without cells takes the round's estimate at once
            # (what it forgot was an old measurement, not this round's scatter).
            back = returning[told]
            variance[told] += np.where(back, 0.0,
                                       self.blend * (change * change - variance[told]))
            log_s[told] += np.where(back, 1.0, self.blend) * change
        measured = total > 0
        if measured.any():
            log_s -= statistics.median(log_s[measured].tolist())
        np.clip(log_s, -limit, limit, out=log_s)
        self._factors = _UNSET  # (the blocks' fit that follows divides by these)

