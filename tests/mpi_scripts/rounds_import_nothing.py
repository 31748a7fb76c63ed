"""A fit whose rounds import no module on any rank (run under mpirun -n N).

A module imported for the first time inside a round (numpy imports ``numpy.ma`` at the first
``np.unique`` or ``np.median``) stalls every rank: 25-80 ms in the first measured round,
and the ranks then woke up late for the next rounds too. Every call of a round's channel
(rank 0 sending a message, posting or collecting sums; the others receiving and sending
sums) notes which modules appeared since the first such call, so that the whole of the
rounds is watched, from the first message to the last, rank 0's work between them
included; every rank prints what it saw.
"""

import sys

import numpy as np
from mpi4py import MPI

import mpicg
from mpicg.parallel import channel

seen: dict = {}


def watched(method):
    def wrapper(*args, **kwargs):
        modules = set(sys.modules)
        seen.setdefault("first", modules)
        seen["new"] = modules - seen["first"]
        return method(*args, **kwargs)

    return wrapper


for name in ("send", "receive", "expect_sums", "collect", "send_sums", "finish"):
    setattr(channel.Channel, name, watched(getattr(channel.Channel, name)))


def model(x, t):
    return 1.0 - x[0] * np.exp(-0.5 * ((t - x[1]) / x[2]) ** 2)


t = np.linspace(0.0, 10.0, 4000)
flux = model([0.02, 5.0, 0.3], t) + np.random.default_rng(3).normal(0.0, 1e-3, t.size)
res = mpicg.fit(mpicg.Problem(model, t, flux, np.full(t.size, 1e-3)), [0.015, 4.9, 0.35],
                maxiter=20)
comm = MPI.COMM_WORLD
new = comm.gather(sorted(seen.get("new", {"no round was watched"})), root=0)
if comm.Get_rank() == 0:
    print("ROUNDS", res.rounds, flush=True)
    print("IMPORTED", new, flush=True)
