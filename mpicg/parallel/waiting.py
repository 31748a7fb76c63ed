"""Waiting for a non-blocking collective: no core burnt, no millisecond added.

A rank that waits (for the next batch, or rank 0 for the slowest rank's sums) spins briefly
when it has a core of its own, then sleeps. It knows when the round should end (rank 0
predicts it from the measured costs), so it sleeps most of the way there in a few long naps
and then polls in short ones (50 us, growing with a quarter of the time it has waited past
its expectation, up to 1 ms), so a late wake-up costs a small fraction of the wait and a
rank wakes up a few times per round, not hundreds. When ranks
outnumber the cores (a simulation, or a shared node), it does not spin at all: a spinning
rank would take the core from a rank that computes.
"""

from __future__ import annotations

import os
import time

from .base import RankClock
from .launcher import launch_local_size

__all__ = ["Waiter", "oversubscribed"]

SPIN_SECONDS = 2e-4  # a fast round's gap (rank 0's optimizer step) is about this long
MIN_NAP, MAX_NAP = 5e-5, 1e-3
NAP_SHARE = 0.25  # of the time waited past the expected end
LONG_NAP_SHARE = 0.8  # of the time left to the expected end, when that is far


def oversubscribed(comm) -> bool:
    """True when this rank's node runs more ranks than it has cores.

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
    return ranks_here > (os.cpu_count() or 1)


class Waiter:
    """Waits for mpi4py requests, counting the time on a rank's clock.

    Parameters
    ----------
    clock : RankClock
        Where the waiting time is counted.
    spin : bool
        Spin a little before sleeping (when this rank has a core of its own).
    """

    def __init__(self, clock: RankClock, spin: bool):
        self.clock, self.spin = clock, SPIN_SECONDS if spin else 0.0

    def wait(self, request, expected: float | None = None,
             deadline: float | None = None) -> bool:
        """Wait until ``request`` completes; False if ``deadline`` passes first.

        Parameters
        ----------
        request : mpi4py.MPI.Request
            What to wait for.
        expected : float, optional
            When (``time.perf_counter()``) it should complete, if known.
        deadline : float, optional
            Give up at this time.
        """
        start = time.perf_counter()
        try:
            if request.Test():
                return True
            spin_until = start + self.spin
            while time.perf_counter() < spin_until:
                if request.Test():
                    return True
            while True:
                now = time.perf_counter()
                if deadline is not None and now > deadline:
                    return False
                if expected is not None and expected - now > 2 * MAX_NAP:
                    nap = LONG_NAP_SHARE * (expected - now)
                else:
                    late = now - (start if expected is None else max(start, expected))
                    nap = min(MAX_NAP, max(MIN_NAP, NAP_SHARE * late))
                if deadline is not None:
                    nap = max(0.0, min(nap, deadline - now))
                time.sleep(nap)
                if request.Test():
                    return True
        finally:
            self.clock.waiting += time.perf_counter() - start
