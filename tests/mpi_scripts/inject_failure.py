"""A small fit whose model fails on one rank at one moment.

usage: inject_failure.py RANK CALL MODE [SHARING]
  RANK     the rank whose model fails
  CALL     which of that rank's model calls fails (1 = the first). With SHARING 'blocks'
           every rank computes every point on its blocks: with 2 parameters the first
           round is calls 1-3 (f(x0) and two finite-difference points) and round 2, the
           first line-search trial, calls 4-6. With 'auto' (the default) how many calls a
           rank makes per round depends on the measured layout, and on the ranks that probe
           (mpicg.parallel.layout.probe_blocks) one call in round 1 is the probe of the
           fixed cost per call.
  MODE     raise (an exception), exit (os._exit), kill (SIGKILL itself), segv (a segfault)
  SHARING  auto, blocks or points (mpicg.fit's sharing)
"""

import ctypes
import os
import signal
import sys

import numpy as np

import mpicg

fail_rank, fail_call, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sharing = sys.argv[4] if len(sys.argv) > 4 else "auto"
rank = int(os.environ.get("PMI_RANK", "0"))
calls = 0


def model(x, t):
    global calls
    calls += 1
    if rank == fail_rank and calls == fail_call:
        if mode == "raise":
            raise RuntimeError(f"injected failure at call {calls}")
        if mode == "exit":
            os._exit(3)
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "segv":
            ctypes.string_at(0)
    return 1.0 - x[0] * np.exp(-0.5 * ((t - x[1]) / 0.3) ** 2)


t = np.linspace(0, 10, 200)
truth = np.array([0.02, 5.0])
flux = 1.0 - truth[0] * np.exp(-0.5 * ((t - truth[1]) / 0.3) ** 2)
res = mpicg.fit(mpicg.Problem(model, t, flux, np.full(t.size, 1e-3)), [0.01, 4.8],
                sharing=sharing)
print(f"rank {rank} finished after {res.nit} iterations")
