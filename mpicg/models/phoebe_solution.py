"""Solutions PHOEBE reads back: ``b.import_solution(file)``, then ``b.adopt_solution(...)``.

PHOEBE 2.5 has no public call that turns numbers from elsewhere into a solution, but
``Bundle.import_solution`` reads any file that ``ParameterSet.open`` reads: a JSON list of
parameters, each a dict with its ``Class``, ``qualifier``, ``value`` and tags. That is the
format PHOEBE itself writes for a solver run in a script (``Bundle.export_solver``) or for
its progress files, and :func:`phoebe_solution_parameters` writes the same parameters an
``optimizer.cg`` run of PHOEBE 2.5 puts in its solution (``fitted_twigs``,
``fitted_uniqueids``, ``initial_values``, ``fitted_values``, ``fitted_units``, ``message``,
``niter``, ``success``, the ``adopt_*`` switches and, with ``expose_lnprobabilities``, the
initial and fitted ln p), tagged with ``context='solution'``, the solution label, the solver,
the compute options and ``kind='cg'``. The tests import and adopt such files with PHOEBE.

This module needs no PHOEBE to write; :func:`adopt_into_bundle` uses PHOEBE's own
``import_solution`` and ``adopt_solution`` on a saved bundle.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from ..fitting._files import write_atomically

__all__ = ["adopt_into_bundle", "phoebe_solution_parameters", "write_phoebe_solution"]


def phoebe_solution_parameters(*, label: str, solver: str, compute: str,
                               fitted_twigs: Sequence[str], fitted_uniqueids: Sequence[str],
                               units: Sequence[str], initial_values: Sequence[float],
                               fitted_values: Sequence[float], message: str, niter: int,
                               success: bool, lnprobabilities: tuple[float, float] | None = None,
                               comments: str = "") -> list[dict]:
    """The parameters of a PHOEBE ``optimizer.cg`` solution, as ``ParameterSet.open`` reads them.

    Parameters
    ----------
    label : str
        The solution's label in the bundle (``b.import_solution`` uses it).
    solver, compute : str
        The solver and compute labels it came from.
    fitted_twigs, fitted_uniqueids, units : sequence of str
        Per fitted parameter: full twig, uniqueid in the bundle, default unit.
    initial_values, fitted_values : sequence of float
        In those units.
    message : str
        The optimizer's message.
    niter : int
        Iterations done.
    success : bool
        Whether the optimizer succeeded.
    lnprobabilities : (float, float), optional
        Initial and fitted ln p (PHOEBE's ``expose_lnprobabilities``).
    comments : str
        Free text (PHOEBE's ``comments``).

    Returns
    -------
    list of dict
        One dict per parameter (JSON-safe).
    """
    tags = {"context": "solution", "solution": label, "solver": solver, "compute": compute,
            "kind": "cg", "copy_for": False}
    twigs = [str(t) for t in fitted_twigs]

    def param(cls: str, qualifier: str, value, description: str, **extra) -> dict:
        return {"Class": cls, "qualifier": qualifier, "value": value,
                "description": description, **tags, **extra}

    params = [
        param("ArrayParameter", "fitted_uniqueids", [str(u) for u in fitted_uniqueids],
              "uniqueids of parameters fitted by the minimizer", visible_if="false",
              advanced=True, readonly=True),
        param("ArrayParameter", "fitted_twigs", twigs,
              "twigs of parameters fitted by the minimizer", readonly=True),
        param("SelectTwigParameter", "adopt_parameters", twigs,
              "which of the parameters should be included when adopting the solution",
              choices=twigs),
        param("BoolParameter", "adopt_distributions", False,
              "whether to create a distribution (of delta functions of all parameters in "
              "adopt_parameters) when calling adopt_solution."),
        param("BoolParameter", "adopt_values", True,
              "whether to update the parameter face-values (of all parameters in "
              "adopt_parameters) when calling adopt_solution."),
        param("StringParameter", "message", str(message), "message from the minimizer",
              readonly=True),
        param("IntParameter", "niter", int(niter), "number of completed iterations",
              readonly=True, limits=[0, None]),
        param("BoolParameter", "success", bool(success),
              "whether the minimizer returned a success message", readonly=True),
        param("ArrayParameter", "initial_values", [float(v) for v in initial_values],
              "initial values before running the minimizer (in current default units of "
              "each parameter)", readonly=True),
        param("ArrayParameter", "fitted_values", [float(v) for v in fitted_values],
              "final values returned by the minimizer (in current default units of each "
              "parameter)", readonly=True),
        param("ArrayParameter", "fitted_units", [str(u) for u in units],
              "units of the fitted_values", advanced=True, readonly=True),
    ]
    if lnprobabilities is not None:
        for qualifier, value, what in zip(("initial_lnprobability", "fitted_lnprobability"),
                                          lnprobabilities, ("initial", "fitted"), strict=True):
            params.append(param("FloatParameter", qualifier, float(value),
                                f"lnprobability of the {what}_values", readonly=True,
                                default_unit="", limits=[None, None]))
    params.append(param("StringParameter", "comments", str(comments),
                        "User-provided comments for this solution.  Feel free to place any "
                        "notes here."))
    return params


def write_phoebe_solution(path: str | os.PathLike, parameters: list[dict]) -> Path:
    """Write :func:`phoebe_solution_parameters`' output where ``b.import_solution`` reads it.

    Written atomically (a temporary file renamed over ``path``), so a reader never sees half
    a file: progress files are rewritten while a fit runs.
    """
    text = json.dumps(parameters, indent=1, allow_nan=True)
    return write_atomically(path, text + "\n")


def adopt_into_bundle(bundle_file: str | os.PathLike, solution_file: str | os.PathLike,
                      output: str | os.PathLike) -> dict[str, float]:
    """Open a saved bundle, import and adopt a solution with PHOEBE, and save it to ``output``.

    Parameters
    ----------
    bundle_file : path
        The bundle the fit came from.
    solution_file : path
        A file written by :func:`write_phoebe_solution`.
    output : path
        Where to save the bundle with the adopted values (with the solution attached).

    Returns
    -------
    dict
        Fitted twig -> its value in the saved bundle, read back from PHOEBE.
    """
    from .phoebe_bundle import open_bundle

    b = open_bundle(bundle_file)
    imported = b.import_solution(str(solution_file), overwrite=True)
    label = imported.solutions[0]
    b.adopt_solution(solution=label)
    twigs = b.get_value(qualifier="fitted_twigs", solution=label, context="solution",
                        check_visible=False)
    b.save(str(output))
    return {str(t): float(b.get_value(twig=str(t), check_visible=False)) for t in twigs}
