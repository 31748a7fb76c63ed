"""mpicg: conjugate-gradient fitting of expensive forward models, spread over MPI ranks.

Rank 0 runs a serial Polak–Ribière+ conjugate-gradient iteration with the semantics of
``scipy.optimize.fmin_cg``; the objective values it needs are computed in batches, and under
MPI every batch is shared by all ranks (points x blocks of observations for a
:class:`Problem`, laid out from the model's measured costs; points for a plain callable), with
results that do not depend on the number of ranks.

The layers, as packages: :mod:`mpicg.optimize` (the pure-numpy optimizer),
:mod:`mpicg.parallel` (evaluators, work sharing, the MPI protocol; the only importer of
mpi4py), :mod:`mpicg.fitting` (problems, named parameters, priors, solutions, checkpoints),
:mod:`mpicg.cli` (the ``mpicg`` command), :mod:`mpicg.models` (built-in models and adapters).
"""

from . import priors
from .errors import (
    FitAborted,
    InputError,
    RankError,
    RemoteEvaluationError,
    optimize_warning_class,
)
from .fitting import (
    Domain,
    Parameter,
    ParameterizedModel,
    Problem,
    Solution,
    Step,
    SumObjective,
    fit,
    load_solution,
    optimizer_cg,
)
from .optimize import OptimizeResult
from .parallel import start_mpi
from .scipy_api import fmin_cg, minimize

__version__ = "0.1.0"

# Started as one of several MPI ranks: start MPI now, so that a rank late or gone at a fit is
# named by the start-up handshake rather than leaving the others blocked in MPI's start-up,
# and so that an uncaught exception anywhere (in mpicg or in the user's script) ends the
# whole job instead of leaving the other ranks waiting for ever. Serially: nothing happens.
start_mpi()


def __getattr__(name: str):
    # scipy's OptimizeWarning when scipy can be imported (mpicg.errors), looked up when asked
    # for, so that `import mpicg` does not import scipy.
    if name == "OptimizeWarning":
        return optimize_warning_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Domain",
    "FitAborted",
    "InputError",
    "OptimizeResult",
    "OptimizeWarning",
    "Parameter",
    "ParameterizedModel",
    "Problem",
    "RankError",
    "RemoteEvaluationError",
    "Solution",
    "Step",
    "SumObjective",
    "__version__",
    "fit",
    "fmin_cg",
    "load_solution",
    "minimize",
    "optimizer_cg",
    "priors",
]
