"""A fit whose model is slow enough to be interrupted (Ctrl-C tests)."""

import time

import numpy as np

import mpicg


def model(x, t):
    time.sleep(0.05)
    return 1.0 - x[0] * np.exp(-0.5 * ((t - x[1]) / 0.3) ** 2)


t = np.linspace(0, 10, 100)
print("started", flush=True)
mpicg.fit(mpicg.Problem(model, t, model(np.array([0.02, 5.0]), t), np.full(t.size, 1e-3)),
          [0.01, 4.8], maxiter=10_000, gtol=0)
