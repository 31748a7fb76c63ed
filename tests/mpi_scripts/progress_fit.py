"""A fit that writes a progress file every iteration; optionally rank 0 kills itself.

usage: progress_fit.py PROGRESS_FILE fresh|resume [KILL_AFTER_ITERATION]
Prints one line "RESULT <x hex> <fun hex> nit nfev njev" from rank 0 when it finishes.

With KILL_AFTER_ITERATION k, rank 0 kills itself (SIGKILL) in its first model call after
iteration k, in the middle of a round; if it computes no cell in iteration k + 1 (a layout
may leave it none), it dies at the end of that iteration instead. Either way the last
progress file is from an earlier iteration than the fit reached. (Iterations, not rank 0's
model calls, because how many calls rank 0 makes depends on the layout.)
"""

import os
import signal
import sys

import numpy as np

import mpicg

path, mode = sys.argv[1], sys.argv[2]
kill_after = int(sys.argv[3]) if len(sys.argv) > 3 else 0
rank = int(os.environ.get("PMI_RANK", "0"))
iterations = 0


def die():
    os.kill(os.getpid(), signal.SIGKILL)  # no clean-up, no last progress file


def model(x, t):
    if rank == 0 and kill_after and iterations == kill_after:
        die()
    return 1.0 - x[0] * np.exp(-0.5 * ((t - x[1]) / x[2]) ** 2)


def callback(xk):
    global iterations
    iterations += 1
    if kill_after and iterations > kill_after:
        die()


rng = np.random.default_rng(0)
t = np.sort(rng.uniform(0, 10, 501))
flux = 1.0 - 0.02 * np.exp(-0.5 * ((t - 5.0) / 0.3) ** 2) + rng.normal(0, 1e-3, t.size)
problem = mpicg.Problem(model, t, flux, np.full(t.size, 1e-3), block_size=19)
if mode == "fresh":
    res = mpicg.fit(problem, [0.015, 4.9, 0.35], progress_every_niters=1, progress_file=path,
                    callback=callback)
else:
    res = mpicg.fit(problem, None, resume=path, progress_every_niters=1, progress_file=path,
                    callback=callback)
if rank == 0:
    print("RESULT", res.x.tobytes().hex(), float(res.fun).hex(), res.nit, res.nfev, res.njev,
          flush=True)
