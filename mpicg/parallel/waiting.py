"""Waiting for a message: no core taken from a rank that computes, no millisecond added.

A rank that waits (for the next batch, for its sums to leave, or rank 0 for the slowest
rank's sums) usually knows when the wait should end: rank 0 predicts each round from the
measured costs. The rank sleeps most of the way there, in one or two long naps (ending early
by how late its naps usually end: a nap of 50 us takes 0.1 ms on a quiet machine, several ms
on a loaded one). Then:

* when every rank of the node has a core of its own, it spins (polls without sleeping) from
  1 ms before the expected end until 20 ms after it, as MPI's own blocking calls do (they
  spin for good): MPI moves messages only while a rank polls, so the fast end of a round
  costs what MPI itself costs, and a rank that naps on a busy machine loses its core for
  milliseconds (measured here: with 2 ms instead of 20, a near-free model's rounds took
  twice as long at the median, ten times at the 90th percentile);
* when ranks outnumber the cores (a simulation, or a shared node), a spinning rank would take
  the core from a rank that computes, and even a poll costs: waking up and asking MPI takes
  about 30 us of a core. So past the expected end a rank naps half the time it has waited
  (from 50 us), which keeps the polls of a long wait few, and a rank other than 0 naps up to
  ``ranks per core x 0.3 ms`` (then all the node's waiting ranks together take at most a
  tenth of its cores), or twice that in a long wait. Rank 0, whose wake-up starts the next
  round, and a rank whose sums are leaving (large ones go only while both sides poll) nap
  1 ms at most.

A wait whose end is not known (the first rounds, or rank 0 busy in a callback) spins 20 ms
(on a core of its own) and then naps the same way.
"""

from __future__ import annotations

import os
import time

from .base import RankClock
from .launcher import launch_local_size

__all__ = ["Waiter", "ranks_per_core"]

SPIN_AHEAD = 1e-3  # spin from this long before the expected end ...
SPIN_PAST = 2e-2  # ... until this long after it (or this long, when no end is expected)
MIN_NAP = 5e-5
NAP_SHARE = 0.5  # of the time waited past the expected end
LONG_NAP_SHARE = 0.8  # of the time left to the expected end, when that is far
POLL_COST = 3e-5  # seconds of a core to wake up and ask MPI (measured here: 27-39 us)
POLL_SHARE = 0.1  # of the node's cores that polling ranks may take together


def ranks_per_core(comm) -> float:
    """Ranks this rank's node runs per core (above 1: the node is oversubscribed).

    The launcher says how many ranks it started here (:func:`.launcher.launch_local_size`);
    when it does not, the ranks of ``comm`` on this node are counted, a collective call then
    (every rank runs under the same launcher, so either all of them make it or none does).
    """
    ranks_here = launch_local_size()
    if ranks_here is None:
        from mpi4py import MPI

        node = comm.Split_type(MPI.COMM_TYPE_SHARED)
        try:
            ranks_here = node.Get_size()
        finally:
            node.Free()
    return ranks_here / (os.cpu_count() or 1)


class Waiter:
    """Waits for mpi4py requests, counting the time on a rank's clock.

    Parameters
    ----------
    clock : RankClock
        Where the waiting time is counted.
    crowding : float
        Ranks per core on this node (:func:`ranks_per_core`): at most 1, the rank may spin
        near the expected end; above, it only naps.
    prompt : bool
        Poll often past the expected end however crowded the node (rank 0, whose every
        wait is on the round's critical path).
    """

    def __init__(self, clock: RankClock, crowding: float = 1.0, prompt: bool = False):
        self.clock = clock
        self.spin = crowding <= 1.0
        self.prompt = prompt
        self.poll_every = MIN_NAP if self.spin else max(
            MIN_NAP, crowding * POLL_COST / POLL_SHARE)
        self.oversleep = MIN_NAP  # how much longer than asked a nap lasts here (measured)

    def _nap(self, seconds: float) -> None:
        t0 = time.perf_counter()
        time.sleep(seconds)
        late = time.perf_counter() - t0 - seconds
        self.oversleep += 0.25 * (max(0.0, late) - self.oversleep)

    def wait(self, request, expected: float | None = None, deadline: float | None = None,
             prompt: bool = False) -> bool:
        """Wait until ``request`` completes; False if ``deadline`` passes first.

        Parameters
        ----------
        request : mpi4py.MPI.Request
            What to wait for (anything with ``Test()``).
        expected : float, optional
            When (``time.perf_counter()``) it should complete, if known.
        deadline : float, optional
            Give up at this time.
        prompt : bool
            Poll often past the expected end (the round waits for this rank: a large message
            leaves only while both sides poll).
        """
        poll_every = MIN_NAP if prompt or self.prompt else self.poll_every
        max_nap = max(1e-3, 2 * poll_every)
        start = time.perf_counter()
        try:
            if request.Test():
                return True
            end = start if expected is None else max(start, expected)
            while True:
                now = time.perf_counter()
                if deadline is not None and now > deadline:
                    return False
                ahead = end - now
                # Naps end late by about self.oversleep: start spinning that much earlier.
                if self.spin and -SPIN_PAST - self.oversleep < ahead < SPIN_AHEAD + self.oversleep:
                    if request.Test():
                        return True
                    continue
                if ahead > self.oversleep + MIN_NAP:
                    lead = (SPIN_AHEAD if self.spin else 0.0) + self.oversleep
                    nap = max(MIN_NAP, min(LONG_NAP_SHARE * ahead, ahead - lead))
                else:  # late: polls ever rarer, from a sixteenth of poll_every up
                    nap = min(max_nap, max(poll_every / 16, MIN_NAP, NAP_SHARE * -ahead))
                if deadline is not None:
                    nap = max(0.0, min(nap, deadline - now))
                self._nap(nap)
                if request.Test():
                    return True
        finally:
            self.clock.waiting += time.perf_counter() - start
