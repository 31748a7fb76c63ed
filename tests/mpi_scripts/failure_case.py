"""One failure class of the failure matrix (tests/test_failure_matrix.py), as a user's script.

usage: failure_case.py CASE
  model-system-exit         the last rank's model calls sys.exit(0) mid-fit
  model-keyboard-interrupt  rank 0's model raises KeyboardInterrupt mid-fit
  model-os-exit             the last rank's model calls os._exit(0) mid-fit
  rank0-os-exit             rank 0's model calls os._exit(0) mid-fit
  exits-before-fit          the last rank's script ends (sys.exit(0)) before the fit
  sleeps-before-fit         the last rank sleeps instead of calling the fit
  prior-raises              a user's prior raises once the fit moves past rp = 0.0905
  nan-on-one-rank           the last rank's model gives NaN mid-fit (status 3, rank named)
  pipeline                  three light curves, the middle one bad (sigma 0); the pipeline
                            catches InputError and goes on, as it would serially
Rank 0 prints "RESULT ..." lines for what it fitted; every rank writes the error it caught
into $MARKS/caught-CURVE-RANK.
"""

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import mpicg
from mpicg.models import TransitModel
from mpicg.priors import Distribution, Uniform

case = sys.argv[1]
rank = int(os.environ.get("PMI_RANK", "0"))
size = int(os.environ.get("PMI_SIZE", "1"))
last = size - 1
calls = 0


def model(x, t):
    global calls
    calls += 1
    if calls == 5:
        if case == "model-system-exit" and rank == last:
            sys.exit(0)
        if case == "model-keyboard-interrupt" and rank == 0:
            raise KeyboardInterrupt
        if case == "model-os-exit" and rank == last:
            os._exit(0)
        if case == "rank0-os-exit" and rank == 0:
            os._exit(0)
    flux = 1.0 - x[0] * np.exp(-0.5 * ((t - x[1]) / 0.3) ** 2)
    if case == "nan-on-one-rank" and rank == last and calls >= 10:
        flux[0] = np.nan
    return flux


def light_curve(shift=0.0, n=300):
    t = np.linspace(0, 10, n)
    flux = 1.0 - 0.02 * np.exp(-0.5 * ((t - 5.0 - shift) / 0.3) ** 2)
    flux = flux + np.random.default_rng(3).normal(0, 1e-3, n)
    return t, flux, np.full(n, 1e-3)


def report(label, res):
    if rank == 0:
        print("RESULT", label, res.x.tobytes().hex(), float(res.fun).hex(), res.nit,
              res.status, flush=True)


@dataclass(frozen=True)
class Fragile(Distribution):
    """A user's own prior that fails past a value (as user code may)."""

    kind = "fragile"

    def logpdf(self, x):
        if x > 0.0905:
            raise ValueError("fragile prior broke")
        return 0.0

    @property
    def support(self):
        return (0.0, 1.0)


if case == "exits-before-fit" and rank == last:
    sys.exit(0)
if case == "sleeps-before-fit" and rank == last:
    time.sleep(120)

if case == "pipeline":
    for i, shift in enumerate([0.0, None, 0.1]):
        try:
            if shift is None:  # a bad light curve: a zero uncertainty
                t, flux, sigma = light_curve()
                sigma[17] = 0.0
            else:
                t, flux, sigma = light_curve(shift)
            res = mpicg.fit(mpicg.Problem(model, t, flux, sigma), [0.01, 4.8])
            report(i, res)
        except mpicg.InputError as e:
            (Path(os.environ["MARKS"]) / f"caught-{i}-{rank}").write_text(str(e))
elif case == "prior-raises":
    transit = TransitModel(period=3.0, resolution=6)
    t = np.linspace(-0.2, 0.2, 151)
    flux = transit(np.array([0.0, 0.1, 10.0, 88.5]), t)
    sol = mpicg.optimizer_cg(transit, t, flux, np.full(t.size, 3e-4), fit_parameters=["rp"],
                             initial_values={"rp": 0.09},
                             priors={"rp": [Fragile(), Uniform(0.0, 1.0)]}, gtol=1e-3)
    print("finished", flush=True)
else:
    # NaN on the last rank from its 10th call on: with the measured ("auto") sharing, how
    # many calls a rank makes, and whether it has cells in the late rounds, depends on
    # timings; the fixed sharing makes every rank compute every point, so the NaN comes.
    sharing = "blocks" if case == "nan-on-one-rank" else "auto"
    res = mpicg.fit(mpicg.Problem(model, *light_curve()), [0.01, 4.8], sharing=sharing)
    report("fit", res)
    if rank == 0:
        print("MESSAGE", res.message, flush=True)
    print("finished", flush=True)
