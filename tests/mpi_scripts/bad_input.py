"""Bad data or a bad argument in a collective fit.

usage: bad_input.py CASE
  sigma-everywhere  every rank builds a Problem with a zero sigma
  nan-on-rank-2     only rank 2 has a NaN in its flux
  x0                every rank passes a non-finite x0
"""

import os
import sys

import numpy as np

import mpicg

case = sys.argv[1]
rank = int(os.environ.get("PMI_RANK", "0"))
t = np.linspace(0, 10, 100)
flux = np.ones_like(t)
sigma = np.full(t.size, 1e-3)
x0 = [0.01, 4.8]
if case == "sigma-everywhere":
    sigma[17] = 0.0
elif case == "nan-on-rank-2" and rank == 2:
    flux[42] = np.nan
elif case == "x0":
    x0 = [0.01, np.inf]


def model(x, t):
    return 1.0 - x[0] * np.exp(-0.5 * ((t - x[1]) / 0.3) ** 2)


problem = mpicg.Problem(model, t, flux, sigma)
mpicg.fit(problem, x0)
print(f"rank {rank} finished")
