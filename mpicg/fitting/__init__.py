"""Fitting light curves: problems, named parameters, priors, the collective and named fits.

The problem turns data and a model into per-block sums; :func:`fit` runs CG on it over every
rank; :func:`optimizer_cg` fits named parameters with PHOEBE's options and returns a
:class:`Solution`; progress files (:mod:`.checkpoint`) let a killed fit resume to the same
bits. No MPI calls here: the ranks are :mod:`mpicg.parallel`'s business.
"""

from . import priors
from .checkpoint import Checkpoint, load_checkpoint, problem_fingerprint, save_checkpoint
from .fit import fit
from .named import (
    FD_SCHEMES,
    NamedFit,
    NamedProblem,
    Step,
    check_fd_scheme,
    named_fit,
    optimizer_cg,
)
from .parameters import Parameter, ParameterizedModel, WithValues, check_parameter_names
from .priors import Priors
from .problem import Problem, SumObjective, check_block_size
from .solution import Solution, load_solution

__all__ = [
    "FD_SCHEMES",
    "Checkpoint",
    "NamedFit",
    "NamedProblem",
    "Parameter",
    "ParameterizedModel",
    "Priors",
    "Problem",
    "Solution",
    "Step",
    "SumObjective",
    "WithValues",
    "check_block_size",
    "check_fd_scheme",
    "check_parameter_names",
    "fit",
    "load_checkpoint",
    "load_solution",
    "named_fit",
    "optimizer_cg",
    "priors",
    "problem_fingerprint",
    "save_checkpoint",
]
