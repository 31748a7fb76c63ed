"""Prior distributions (``from mpicg.priors import Gaussian, Uniform``).

They live in :mod:`mpicg.fitting.priors`; this module keeps the public import path.
"""

from .fitting.priors import *  # noqa: F403 - the public names, re-exported
from .fitting.priors import __all__  # noqa: F401
