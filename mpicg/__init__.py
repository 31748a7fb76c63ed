"""mpicg: conjugate-gradient fitting of expensive forward models, spread over MPI ranks.

Rank 0 runs a serial Polak–Ribière+ conjugate-gradient iteration with the semantics of
``scipy.optimize.fmin_cg``; the objective values it needs are computed in batches by an
evaluator, which under MPI splits every evaluation over all ranks.
"""

from .result import OptimizeResult, OptimizeWarning
from .scipy_api import fmin_cg, minimize

__version__ = "0.1.0"

__all__ = ["OptimizeResult", "OptimizeWarning", "__version__", "fmin_cg", "minimize"]
