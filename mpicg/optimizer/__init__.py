"""The optimizer: Polak–Ribière+ CG with the Moré–Thuente line search, in pure numpy.

Nothing here knows about MPI, files or models: values come from a batch evaluator through
:class:`~mpicg.optimizer.objective.BatchedObjective`.
"""

from .cg import MESSAGES, CGOutcome, CGState, cg_iteration, initial_state, run_cg, vecnorm
from .finite_differences import FiniteDifference
from .linesearch import LineSearchError, strong_wolfe_search
from .objective import BatchedObjective, BatchEvaluator

__all__ = [
    "MESSAGES",
    "BatchEvaluator",
    "BatchedObjective",
    "CGOutcome",
    "CGState",
    "FiniteDifference",
    "LineSearchError",
    "cg_iteration",
    "initial_state",
    "run_cg",
    "strong_wolfe_search",
    "vecnorm",
]
