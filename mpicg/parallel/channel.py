"""How a round's messages travel: rank 0's message out to every rank, the sums back.

A round is one message out to every rank and the sums back, all float64 buffers:

* **out**: rank 0's message (header, batch and, when new, a layout) has a fixed capacity that
  grows to the largest batch seen, so that it is one message; one that does not fit follows
  in a second. It goes out as a broadcast (a tree: a rank passes it on to others) when every
  rank has a core of its own and polls promptly. When a node has more ranks than cores,
  waiting ranks must sleep, and a sleeping rank would hold up the ranks below it in the tree,
  so rank 0 sends the message to each rank itself.
* **back**: every rank sends its sums and trailer to rank 0, which posted its receives,
  straight into the gathered buffer, before it sent the message (so that a rank that
  finishes first can hand over its sums while rank 0 still computes). The sums go in pieces
  of 3.5 kB, small enough that MPI sends each at once; a rank still waits for them to leave
  before it waits for the next message.

Waits go through :class:`~.waiting.Waiter` (no core burnt, no millisecond added).
"""

from __future__ import annotations

import numpy as np

from .base import RankClock
from .layout import Layout
from .waiting import Waiter, ranks_per_core

__all__ = ["HEADER", "Channel"]

#: Numbers at the head of every message: command, m, n, layout length, seconds expected for
#: the round and to the next message (0: unknown), probe.
HEADER = 7
FIRST_CAPACITY = 64  # numbers in a message, until a larger batch comes
_MESSAGE_TAG, _SUMS_TAG = 4240, 4241  # point-to-point messages of the rounds
#: Sums travel in messages of at most this many numbers (3.5 kB). MPI sends a small message
#: at once and a large one only while both sides poll, in several steps; with waiting ranks
#: asleep most of the time, those steps cost milliseconds. (Measured with MPICH here: 4 kB
#: messages leave at once, 8 kB ones wait for the receiver; Open MPI's shared-memory eager
#: limit is 4 kB too.)
CHUNK = 448


def _chunks(first: int, last: int) -> list[tuple[int, int]]:
    """``[first, last)`` in pieces of at most :data:`CHUNK` numbers (at least one piece)."""
    return [(lo, min(lo + CHUNK, last)) for lo in range(first, max(last, first + 1), CHUNK)]


def _testsome(requests: list):
    """``MPI.Request.Testsome`` (mpi4py imported only when a channel is used)."""
    from mpi4py import MPI

    global _testsome
    _testsome = MPI.Request.Testsome  # once: the import would cost a microsecond per poll
    return _testsome(requests)


class _AllOf:
    """Several requests waited for as one."""

    def __init__(self, requests: list):
        self.requests = list(requests)

    def Test(self) -> bool:  # noqa: N802 -- mpi4py's name, which the waiter calls
        """True once all are complete; takes every message that has arrived first.

        MPI (MPICH's shared memory, at least) moves only a few messages per poll: with 31
        ranks' sums arriving, a waiter that napped between single polls would take 31 naps.
        So poll again at once as long as a poll completes something.
        """
        while self.requests:
            done = _testsome(self.requests)
            if not done:
                return False
            for index in sorted(done, reverse=True):
                del self.requests[index]
        return True


class Channel:
    """One rank's end of the rounds' messages (rank 0 and the others use different halves).

    Parameters
    ----------
    comm : mpi4py communicator
        Every rank of the job (creating a channel is a collective call).
    clock : RankClock
        Where this rank's waiting time is counted.
    """

    def __init__(self, comm, clock: RankClock):
        self.comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        crowding = ranks_per_core(comm)
        self.waiter = Waiter(clock, crowding, prompt=self.rank == 0)
        self.flat = crowding > 1.0
        self.capacity = FIRST_CAPACITY
        self._sending: list = []  # (request, buffer) of sums still on their way to rank 0
        self._receiving = None  # rank 0: the receives of the round in progress
        self._announced = False  # rank 0: whether that round's message went out

    def _post(self, buffer: np.ndarray):
        """Start sending (rank 0) or receiving (the others) one message from rank 0."""
        if not self.flat:
            return self.comm.Ibcast(buffer, root=0)
        if self.rank == 0:
            return _AllOf([self.comm.Isend(buffer, dest=r, tag=_MESSAGE_TAG)
                           for r in range(1, self.size)])
        return self.comm.Irecv(buffer, source=0, tag=_MESSAGE_TAG)

    def _grow(self, header) -> None:
        # Both sides, after every batch: the next one this large fits in one message.
        if header[1] > 0:
            self.capacity = max(self.capacity, HEADER + int(header[1]) * int(header[2]))

    # -- rank 0 ---------------------------------------------------------------------------
    def send(self, header: list, body: np.ndarray | None = None,
             deadline: float | None = None) -> bool:
        """Send a header and its body to every rank; False if ``deadline`` passed first."""
        message = np.zeros(self.capacity)
        message[:HEADER] = header
        fits = body is None or HEADER + body.size <= self.capacity
        if body is not None and fits:
            message[HEADER:HEADER + body.size] = body
        if not self.waiter.wait(self._post(message), deadline=deadline):
            return False
        if not fits:
            self.waiter.wait(self._post(body))
        if body is not None:
            self._grow(header)
            self._announced = True
        return True

    def expect_sums(self, layout: Layout) -> np.ndarray:
        """Post the receives of every other rank's sums for a round; the buffer they fill.

        Rank 0's own part goes in with :meth:`collect`.
        """
        counts, displs = layout.gather_counts()
        gathered = np.empty(int(counts.sum()))
        self._receiving = _AllOf([
            self.comm.Irecv(gathered[lo:hi], source=r, tag=_SUMS_TAG)
            for r in range(1, self.size)
            for lo, hi in _chunks(int(displs[r]), int(displs[r] + counts[r]))])
        self._announced = False  # until the round's message is out
        return gathered

    def collect(self, gathered: np.ndarray, layout: Layout, own: np.ndarray,
                expected: float | None = None) -> np.ndarray:
        """Put rank 0's own sums in and wait for everyone else's; the gathered buffer."""
        counts, _ = layout.gather_counts()
        gathered[:counts[0]] = own
        self.finish(expected)
        return gathered

    # -- the other ranks ------------------------------------------------------------------
    def receive(self, expected: float | None) -> tuple[np.ndarray, np.ndarray | None]:
        """The next header from rank 0, and its body (None for a bare command)."""
        message = np.empty(self.capacity)
        self.waiter.wait(self._post(message), expected=expected)
        header = message[:HEADER]
        m, n, length = (int(v) for v in header[1:4])
        if length == 0 and m * n == 0:
            return header, None
        size = m * n + length
        if HEADER + size <= self.capacity:
            body = message[HEADER:HEADER + size]
        else:
            body = np.empty(size)
            self.waiter.wait(self._post(body))
        self._grow(header)
        return header, body

    def send_sums(self, sums: np.ndarray, expected: float | None = None) -> None:
        """Send this rank's sums and trailer to rank 0; wait until they have left.

        ``expected``: when rank 0 should be done with its own share (and polling).
        """
        for lo, hi in _chunks(0, sums.size):
            self._sending.append((self.comm.Isend(sums[lo:hi], dest=0, tag=_SUMS_TAG), sums))
        self.finish(expected, prompt=True)

    # -- both -----------------------------------------------------------------------------
    def finish(self, expected: float | None = None, deadline: float | None = None,
               prompt: bool = False) -> bool:
        """Wait until this rank's sums have left (rank 0: until all sums are in).

        Rank 0 cancels the receives it posted when ``deadline`` passes or the round's message
        never went out (a round cut short): left in place, they would take the sums of the next
        fit's first round.
        """
        if self._receiving is not None:
            done = self._announced and self.waiter.wait(self._receiving, expected=expected,
                                                        deadline=deadline)
            if not done:
                from mpi4py import MPI

                for request in self._receiving.requests:
                    request.Cancel()
                MPI.Request.Waitall(self._receiving.requests)
            self._receiving = None
            return done
        if self._sending:
            done = self.waiter.wait(_AllOf([q for q, _ in self._sending]), expected, deadline,
                                    prompt)
            if done:
                self._sending = []
            return done
        return True
