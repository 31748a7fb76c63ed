"""Fitting light curves: problems, named parameters, priors, the collective and named fits.

The problem turns data and a model into per-block sums; :func:`fit` runs CG on it over every
rank; :func:`optimizer_cg` fits named parameters with PHOEBE's options, on scaled variables
(:mod:`.scaling`), inside the parameters' domains (:mod:`.domain`), and returns a
:class:`Solution` with uncertainties (:mod:`.uncertainties`) and a diagnosis
(:mod:`.diagnosis`); progress files (:mod:`.checkpoint`) let a killed fit resume to the same
bits. No MPI calls here: the ranks are :mod:`mpicg.parallel`'s business.
"""

from . import priors
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .diagnosis import Diagnosis
from .domain import Domain
from .fingerprint import problem_fingerprint
from .fit import fit
from .named import NamedFit, NamedProblem, named_fit, optimizer_cg
from .parameters import Parameter, ParameterizedModel, WithValues, check_parameter_names
from .priors import Priors
from .problem import Problem, SumObjective, check_block_size
from .scaling import SCALE_MODES, check_scale, check_scale_value
from .solution import Solution, load_solution
from .steps import FD_SCHEMES, Step, check_fd_scheme
from .uncertainties import Uncertainties

__all__ = [
    "FD_SCHEMES",
    "SCALE_MODES",
    "Checkpoint",
    "Diagnosis",
    "Domain",
    "NamedFit",
    "NamedProblem",
    "Parameter",
    "ParameterizedModel",
    "Priors",
    "Problem",
    "Solution",
    "Step",
    "SumObjective",
    "Uncertainties",
    "WithValues",
    "check_block_size",
    "check_fd_scheme",
    "check_parameter_names",
    "check_scale",
    "check_scale_value",
    "fit",
    "load_checkpoint",
    "load_solution",
    "named_fit",
    "optimizer_cg",
    "priors",
    "problem_fingerprint",
    "save_checkpoint",
]
