"""A short mpicg fit of a coarse-mesh PHOEBE binary; rank 0 prints the result as JSON.

Run under ``mpirun -n N`` by tests/test_phoebe_adapter.py, which also imports
:func:`make_problem` and :func:`run_fit` to fit the same problem serially in its own process.
Every rank builds the same problem (PHOEBE is deterministic), so no model travels by pickle.
"""

import functools
import json
import os

import numpy as np

import mpicg
from mpicg.models.phoebe_adapter import PhoebeLightCurve, blackbody_binary, import_phoebe

TWIGS = ["incl@binary", "requiv@secondary"]
TRUTH = np.array([86.0, 1.0])
X0 = np.array([85.0, 0.97])
# Absolute forward-difference steps, well above the coarse mesh's discretization noise.
EPSILON = np.array([1e-2, 1e-3])
# A coarse mesh and a handful of times around both eclipses: a few seconds per fit.
FACTORY = functools.partial(blackbody_binary, ntriangles=300)
TIMES = np.array([-0.06, -0.03, 0.0, 0.03, 0.44, 0.47, 0.5, 0.53])
SIGMA = 0.002


def make_problem() -> mpicg.Problem:
    # The earliest time as reference_time: PHOEBE builds the mesh at it in every call, so
    # chunks get the same fluxes as the whole.
    model = PhoebeLightCurve(FACTORY, TWIGS, reference_time=TIMES[0])
    flux = model(TRUTH, TIMES) + np.random.default_rng(7).normal(0.0, SIGMA, TIMES.size)
    return mpicg.Problem(model, TIMES, flux, np.full(TIMES.size, SIGMA))


def run_fit(problem: mpicg.Problem):
    return mpicg.fit(problem, X0, epsilon=EPSILON, gtol=1.0, maxiter=2)


if __name__ == "__main__":
    res = run_fit(make_problem())
    rank = int(os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")))
    # What PHOEBE decided about MPI in this rank: it must run serially inside mpicg.
    print(f"rank {rank}: phoebe mpi mode: {import_phoebe().mpi.mode}", flush=True)
    if rank == 0:
        print("RESULT " + json.dumps({
            "x": [float(v).hex() for v in res.x], "fun": float(res.fun).hex(),
            "nit": int(res.nit), "nfev": int(res.nfev), "status": int(res.status),
            "n_ranks": int(res.n_ranks), "message": res.message}), flush=True)
