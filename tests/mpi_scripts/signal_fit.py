"""A slow fit with a progress file, to be stopped by a signal and resumed.

usage: signal_fit.py PROGRESS_FILE fresh|resume
Rank 0 prints "ITERATION k" after each iteration and "RESULT ..." when the fit finishes.
"""

import os
import sys
import time

import numpy as np

import mpicg

path, mode = sys.argv[1], sys.argv[2]
rank = int(os.environ.get("PMI_RANK", "0"))
slow = mode == "fresh"


def model(x, t):
    if slow:
        time.sleep(0.01)  # long enough for a signal to land mid-fit
    return 1.0 - x[0] * np.exp(-0.5 * ((t - x[1]) / x[2]) ** 2)


def report(xk):
    print("ITERATION", flush=True)


rng = np.random.default_rng(0)
t = np.sort(rng.uniform(0, 10, 301))
flux = 1.0 - 0.02 * np.exp(-0.5 * ((t - 5.0) / 0.3) ** 2) + rng.normal(0, 1e-3, t.size)
problem = mpicg.Problem(model, t, flux, np.full(t.size, 1e-3))
if mode == "fresh":
    res = mpicg.fit(problem, [0.015, 4.9, 0.35], progress_file=path, callback=report)
elif mode == "resume":
    res = mpicg.fit(problem, None, resume=path)
else:
    res = mpicg.fit(problem, [0.015, 4.9, 0.35])
if rank == 0:
    print("RESULT", res.x.tobytes().hex(), float(res.fun).hex(), res.nit, res.nfev, res.njev,
          flush=True)
