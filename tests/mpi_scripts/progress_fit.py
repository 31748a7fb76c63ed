"""A fit that writes a progress file every iteration; optionally rank 0 kills itself.

usage: progress_fit.py PROGRESS_FILE fresh|resume [KILL_AT_CALL]
Prints one line "RESULT <x hex> <fun hex> nit nfev njev" from rank 0 when it finishes.
"""

import os
import signal
import sys

import numpy as np

import mpicg

path, mode = sys.argv[1], sys.argv[2]
kill_at = int(sys.argv[3]) if len(sys.argv) > 3 else 0
rank = int(os.environ.get("PMI_RANK", "0"))
calls = 0


def model(x, t):
    global calls
    calls += 1
    if rank == 0 and calls == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)  # no clean-up, no last progress file
    return 1.0 - x[0] * np.exp(-0.5 * ((t - x[1]) / x[2]) ** 2)


rng = np.random.default_rng(0)
t = np.sort(rng.uniform(0, 10, 501))
flux = 1.0 - 0.02 * np.exp(-0.5 * ((t - 5.0) / 0.3) ** 2) + rng.normal(0, 1e-3, t.size)
problem = mpicg.Problem(model, t, flux, np.full(t.size, 1e-3), block_size=19)
if mode == "fresh":
    res = mpicg.fit(problem, [0.015, 4.9, 0.35], progress_every_niters=1, progress_file=path)
else:
    res = mpicg.fit(problem, None, resume=path, progress_every_niters=1, progress_file=path)
if rank == 0:
    print("RESULT", res.x.tobytes().hex(), float(res.fun).hex(), res.nit, res.nfev, res.njev,
          flush=True)
