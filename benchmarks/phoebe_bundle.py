"""The README's PHOEBE comparison problem as a saved bundle, run with ``mpicg phoebe``.

    python benchmarks/phoebe_bundle.py [--ranks 2] [--gtol 0.25] [--skip-reference]

The problem of benchmarks/phoebe_comparison.py (PHOEBE 2.5 ``default_binary()``, blackbody
atmospheres, manual logarithmic limb darkening, 41 times over one period, noise 0.002,
truth incl@binary = 86 deg, requiv@secondary = 1.0 solRad, start 84 / 0.95), saved the way a
PHOEBE user saves it: the observations in the ``lc01`` dataset, uniform priors as PHOEBE
distributions, and an ``optimizer.cg`` solver with ``fit_parameters``, ``initial_values``,
``priors``, ``gtol``, ``maxiter`` and ``expose_lnprobabilities``. Then:

1. ``mpirun -n RANKS mpicg phoebe BUNDLE --solver cg_solver --fd-scheme central
   --save-bundle ...`` (timed, whole command): mpicg's defaults otherwise (variables scaled by
   their sigma at the start, so the solver's gtol is in sigmas; steps of half a sigma; the
   covariance at the solution);
2. PHOEBE imports ``solution.ps`` and adopts it, and the saved bundle holds the values;
3. (unless ``--skip-reference``) the same problem through ``mpicg.optimizer_cg``, serially in
   this process, with the model built from PHOEBE's factory rather than from the saved
   bundle (and no covariance, which does not change the fit): the fitted values must be the
   same bits.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from phoebe_comparison import (  # noqa: E402
    NOISE,
    RUN_ENV,
    SEED,
    TWIGS,
    X0,
    make_model,
    mpirun,
    observation_times,
)
from phoebe_comparison import TRUTH as TRUTH_VALUES  # noqa: E402

from mpicg.models.phoebe_adapter import blackbody_binary, import_phoebe  # noqa: E402

PRIORS = {"incl@binary": (80.0, 90.0), "requiv@secondary": (0.8, 1.2)}


def observations():
    times = observation_times()
    flux = make_model()(TRUTH_VALUES, times) + np.random.default_rng(SEED).normal(
        0.0, NOISE, times.size)
    return times, flux


def save_bundle(path: Path, times, flux, gtol: float, maxiter: int) -> None:
    phoebe = import_phoebe()
    b = blackbody_binary()
    b.set_value(qualifier="times", dataset="lc01", context="dataset", value=times)
    b.set_value(qualifier="fluxes", dataset="lc01", context="dataset", value=flux)
    b.set_value(qualifier="sigmas", dataset="lc01", context="dataset",
                value=np.full(times.size, NOISE))
    for twig, (low, high) in PRIORS.items():
        b.add_distribution(twig, phoebe.uniform(low, high), distribution="box")
    b.add_solver("optimizer.cg", solver="cg_solver", fit_parameters=TWIGS,
                 initial_values=dict(zip(TWIGS, X0.tolist(), strict=True)), priors=["box"],
                 gtol=gtol, maxiter=maxiter, expose_lnprobabilities=True)
    b.save(str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--gtol", type=float, default=0.25,
                        help="the solver's gtol, in sigmas with mpicg's scaling (0.25)")
    parser.add_argument("--maxiter", type=int, default=100)
    parser.add_argument("--skip-reference", action="store_true",
                        help="skip the serial optimizer_cg run of the same problem")
    args = parser.parse_args()
    for k, v in RUN_ENV.items():
        os.environ.setdefault(k, v)
    phoebe = import_phoebe()
    times, flux = observations()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bundle, out, fitted = tmp / "binary.phoebe", tmp / "out", tmp / "fitted.phoebe"
        save_bundle(bundle, times, flux, args.gtol, args.maxiter)
        command = [mpirun(), "-n", str(args.ranks), sys.executable, "-m", "mpicg", "phoebe",
                   str(bundle), "--solver", "cg_solver", "--output", str(out),
                   "--fd-scheme", "central", "--save-bundle", str(fitted)]
        print("$ " + " ".join(command[3:]).replace(str(tmp), "TMP"), flush=True)
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(HERE.parent)})
        seconds = time.perf_counter() - t0
        print(done.stdout.replace(str(tmp), "TMP"), done.stderr[-3000:], flush=True)
        if not (out / "solution.json").exists():
            sys.exit(f"mpicg phoebe failed with exit code {done.returncode}")
        solution = json.loads((out / "solution.json").read_text())
        b = phoebe.open(str(bundle))
        b.import_solution(str(out / "solution.ps"))
        b.adopt_solution("latest")
        adopted = [b.get_value(t, context="component") for t in TWIGS]
        saved = phoebe.open(str(fitted))
        in_saved = [saved.get_value(t, context="component") for t in TWIGS]
    print(f"mpicg phoebe under mpirun -n {args.ranks}: {seconds:.1f} s for the whole command "
          f"(exit code {done.returncode}); status {solution['status']} ({solution['message']})"
          f", diagnosis: {solution['diagnosis']['verdict']} ({solution['diagnosis']['reason']})"
          f"; {solution['nit']} iterations, {solution['nfev']} model evaluations (+ "
          f"{solution['nfev_scales']} scales, {solution['nfev_uncertainties']} uncertainties), "
          f"fit {solution['wall_time']:.1f} s; sigma {solution['uncertainties']}")
    print(f"fitted {dict(zip(TWIGS, [solution['fitted_values'][t] for t in TWIGS], strict=True))}"
          f"; adopted by PHOEBE: {adopted}; in the saved bundle: {in_saved}")
    print(f"PHOEBE adopted the fitted values exactly: "
          f"{adopted == [solution['fitted_values'][t] for t in TWIGS] == in_saved}")
    if args.skip_reference:
        return
    import mpicg
    from mpicg.priors import Uniform

    t0 = time.perf_counter()
    reference = mpicg.optimizer_cg(
        make_model(), times, flux, np.full(times.size, NOISE), fit_parameters=TWIGS,
        initial_values=dict(zip(TWIGS, X0.tolist(), strict=True)),
        priors={t: Uniform(*lh) for t, lh in PRIORS.items()}, fd_scheme="central",
        uncertainties=False, gtol=args.gtol, maxiter=args.maxiter,
        expose_lnprobabilities=True)
    print(f"optimizer_cg, serial, same problem: {time.perf_counter() - t0:.1f} s; status "
          f"{reference.status}, {reference.nit} iterations, {reference.nfev} evaluations; "
          f"fitted {reference.fitted_values}")
    same = [float(reference.fitted_values[t]).hex() for t in TWIGS] == \
        [float(solution["fitted_values"][t]).hex() for t in TWIGS]
    print(f"the same bits as mpicg phoebe: {same}")


if __name__ == "__main__":
    main()
