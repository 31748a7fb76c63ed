"""A pipeline that catches bad arguments and goes on: every rank must catch the same error.

Three fits in a row: a start with a NaN (InputError), a callback that is not callable
(TypeError, as scipy raises), then a good one; then two named fits (`optimizer_cg`): a
callback that is not callable, then a good one. Each rank writes what it caught, by class,
or "ok", into a file per rank and fit in the directory $MARKS (lines printed by several
ranks interleave). Run under mpirun -n N: exit code 0, within seconds.
"""

import os
from pathlib import Path

import numpy as np

import mpicg
from mpicg.models import TransitModel
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

# The same through a named fit (its callback is wrapped in scaled variables).
transit = TransitModel(period=3.0, resolution=6)
tt = np.linspace(-0.2, 0.2, 151)
tflux = transit(np.array([0.0, 0.1, 10.0, 88.5]), tt)
for label, options in [("named-bad-callback", {"callback": 3}), ("named-good", {})]:
    try:
        sol = mpicg.optimizer_cg(transit, tt, tflux, np.full(tt.size, 3e-4),
                                 fit_parameters=["rp"], initial_values={"rp": 0.09},
                                 gtol=1e-3, **options)
        outcome = "ok"
    except (mpicg.InputError, TypeError) as e:
        outcome = f"caught {type(e).__name__}"
    (Path(os.environ["MARKS"]) / f"{rank}-{label}").write_text(outcome)
