"""A pipeline that catches bad arguments and goes on: every rank must catch the same error.

Three fits in a row: a start with a NaN (InputError), a callback that is not callable
(TypeError, as scipy raises), then a good one. Each rank prints what it caught, by class,
and "ok" for the fit that runs, Run under mpirun -n N: exit code 0, within seconds.
"""

import os
from pathlib import Path

import numpy as np

import mpicg
from mpicg.parallel import launch_rank

t = np.linspace(0.0, 10.0, 300)


def model(x, t):
    return 1.0 - x[0] * np.exp(-0.5 * ((t - x[1]) / 0.3) ** 2)


flux = model([0.02, 5.0], t) + np.random.default_rng(1).normal(0.0, 1e-3, t.size)
problem = mpicg.Problem(model, t, flux, np.full(t.size, 1e-3))
rank = launch_rank() or 0
for label, x0, options in [("nan-start", [0.01, float("nan")], {}),
                           ("bad-callback", [0.01, 4.8], {"callback": 3}),
                           ("good", [0.01, 4.8], {})]:
    try:
        res = mpicg.fit(problem, x0, **options)
        outcome = f"ok {res.status}"
    except (mpicg.InputError, TypeError) as e:
        outcome = f"caught {type(e).__name__}"
    (Path(os.environ["MARKS"]) / f"{rank}-{label}").write_text(outcome)
