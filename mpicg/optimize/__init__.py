"""The optimizer: Polak–Ribière+ CG with the Moré–Thuente line search, in pure numpy.

Nothing here knows about MPI, files or models: values come from a batch evaluator (anything
with ``evaluate(points) -> values``) through
:class:`~mpicg.optimize.objective.BatchedObjective`. This package imports numpy, the standard
library and itself only (a test holds it to that).
"""

from ._checks import (
    DEFAULT_C1,
    DEFAULT_C2,
    InputError,
    check_callable,
    check_cg_options,
    check_line_search_constants,
    check_line_search_constants_as_scipy,
    check_maxiter,
    check_nonnegative,
    check_norm,
    check_step,
    check_x0,
    objective_value,
    show_value,
)
from .cg import MESSAGES, CGOutcome, CGState, cg_iteration, initial_state, run_cg, vecnorm
from .driver import LOG, STOPPED_BY_CALLBACK, minimize_cg
from .finite_differences import (
    EPSILON,
    ComplexStep,
    FiniteDifference,
    FunctionWithArgs,
    gradient_rule,
)
from .hessian import (
    Hessian,
    curvature_from_values,
    curvature_points,
    hessian_from_values,
    hessian_points,
    invert_hessian,
)
from .linesearch import LineSearchError, strong_wolfe_search
from .objective import BatchedObjective, BatchEvaluator, ValueAndGradient
from .result import (
    OptimizeResult,
    OwnOptimizeWarning,
    use_warning_class,
    warn_at_user,
    warn_unsuccessful,
    warning_class,
)

__all__ = [
    "DEFAULT_C1",
    "DEFAULT_C2",
    "EPSILON",
    "LOG",
    "MESSAGES",
    "STOPPED_BY_CALLBACK",
    "BatchEvaluator",
    "BatchedObjective",
    "CGOutcome",
    "CGState",
    "ComplexStep",
    "FiniteDifference",
    "FunctionWithArgs",
    "Hessian",
    "InputError",
    "LineSearchError",
    "OptimizeResult",
    "OptimizeWarning",
    "OwnOptimizeWarning",
    "ValueAndGradient",
    "cg_iteration",
    "check_callable",
    "check_cg_options",
    "check_line_search_constants",
    "check_line_search_constants_as_scipy",
    "check_maxiter",
    "check_nonnegative",
    "check_norm",
    "check_step",
    "check_x0",
    "curvature_from_values",
    "curvature_points",
    "gradient_rule",
    "hessian_from_values",
    "hessian_points",
    "initial_state",
    "invert_hessian",
    "minimize_cg",
    "objective_value",
    "run_cg",
    "show_value",
    "strong_wolfe_search",
    "use_warning_class",
    "vecnorm",
    "warn_at_user",
    "warn_unsuccessful",
    "warning_class",
]


def __getattr__(name: str):
    # OptimizeWarning is the class warnings are given with: scipy's when scipy imports
    # (chosen by mpicg.errors, outside this pure-numpy package), asked for when needed.
    if name == "OptimizeWarning":
        return warning_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
