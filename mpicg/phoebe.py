"""Run a saved PHOEBE bundle's ``optimizer.cg`` solver with mpicg, and hand the solution back.

The public path of the PHOEBE bundle workflow (``mpicg phoebe BUNDLE --solver LABEL`` on the
command line)::

    from mpicg.phoebe import run_phoebe_solver, phoebe_solution, write_phoebe_solution

    sol = run_phoebe_solver("binary.phoebe", "cg_solver",
                            steps={"incl@binary": 0.01, "requiv@secondary": 1e-3})
    write_phoebe_solution("solution.ps", phoebe_solution(sol))
    # in PHOEBE: b.import_solution("solution.ps"); b.adopt_solution()

Importing this module does not import PHOEBE; the functions do.
"""

from .fitting.phoebe_solver import (
    DEFAULT_SOLUTION_LABEL,
    PhoebeFit,
    phoebe_solution,
    read_phoebe_solver,
    run_phoebe_solver,
)
from .models.phoebe_bundle import BundleFit, open_bundle, read_cg_solver
from .models.phoebe_priors import prior_from_distl
from .models.phoebe_solution import (
    adopt_into_bundle,
    phoebe_solution_parameters,
    write_phoebe_solution,
)

__all__ = [
    "DEFAULT_SOLUTION_LABEL",
    "BundleFit",
    "PhoebeFit",
    "adopt_into_bundle",
    "open_bundle",
    "phoebe_solution",
    "phoebe_solution_parameters",
    "prior_from_distl",
    "read_cg_solver",
    "read_phoebe_solver",
    "run_phoebe_solver",
    "write_phoebe_solution",
]
