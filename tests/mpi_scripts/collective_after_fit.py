"""A user's script that goes on with MPI of its own after a fit, then ends normally.

Rank 0 gathers every rank's result (its own collective call after mpicg's) and prints the
fit's bits; every rank then ends its script. Run under mpirun -n N: exit code 0 expected.
"""

import numpy as np
from mpi4py import MPI

import mpicg

t = np.linspace(0.0, 10.0, 300)


def model(x, t):
    return 1.0 - x[0] * np.exp(-0.5 * ((t - x[1]) / 0.3) ** 2)


flux = model([0.02, 5.0], t) + np.random.default_rng(1).normal(0.0, 1e-3, t.size)
res = mpicg.fit(mpicg.Problem(model, t, flux, np.full(t.size, 1e-3)), [0.01, 4.8])
comm = MPI.COMM_WORLD
gathered = comm.gather(res.x.tobytes().hex(), root=0)
if comm.Get_rank() == 0:
    print("SAME", len(set(gathered)) == 1, flush=True)
