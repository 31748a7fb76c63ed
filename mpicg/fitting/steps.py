"""Finite-difference steps of a named fit: the scheme and each fitted parameter's step.

A step is absolute (in the parameter's unit) or relative to the parameter's value; the
parameters without one get the default rule (:mod:`.scaling`: a step in units of the
parameter's scale). A progress file keeps the rule in the scaled variables, and
:func:`steps_in_units` gives a resumed fit's steps back in the parameters' units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = ["FD_SCHEMES", "Step", "check_fd_scheme", "check_steps", "steps_in_units"]

#: The finite-difference schemes of a named fit.
FD_SCHEMES = ("forward", "central")


def check_fd_scheme(scheme) -> str:
    """``scheme`` if it is one of :data:`FD_SCHEMES`, else InputError naming it."""
    if scheme not in FD_SCHEMES:
        raise InputError(f"`fd_scheme` must be 'forward' or 'central'; got {scheme!r}")
    return scheme


@dataclass(frozen=True)
class Step:
    """A finite-difference step for one parameter.

    Parameters
    ----------
    size : float
        The step, > 0.
    kind : {'absolute', 'relative'}
        Absolute (in the parameter's unit), or relative to the parameter's value.
    """

    size: float
    kind: str = "absolute"

    def __post_init__(self):
        if self.kind not in ("absolute", "relative"):
            raise InputError(f"a Step's `kind` must be 'absolute' or 'relative'; "
                             f"got {self.kind!r}")
        if not (isinstance(self.size, int | float | np.floating) and math.isfinite(self.size)
                and self.size > 0):
            raise InputError(f"a finite-difference step must be a number > 0; "
                             f"got {self.size!r}")


def check_steps(steps: dict | None, fit_parameters: list[str]) -> dict[str, Step]:
    """The steps the user gave, as :class:`Step` per fitted parameter (others: default)."""
    steps = dict(steps or {})
    unknown = [k for k in steps if k not in fit_parameters]
    if unknown:
        raise InputError(f"`steps` names {unknown}, which are not in fit_parameters "
                         f"{fit_parameters}")
    resolved = {}
    for name in fit_parameters:
        if name not in steps:
            continue
        step = steps[name]
        if not isinstance(step, Step):
            try:
                step = Step(step)
            except InputError as e:
                raise InputError(f"`steps['{name}']`: {e}") from None
        resolved[name] = step
    return resolved


def steps_in_units(fit_parameters: list[str], fd: dict, scale: np.ndarray) -> dict:
    """A resumed fit's steps in the parameters' units, from its progress file's rule.

    The stored rule is in the scaled variables ``u = (x - x0) / s``: an absolute step
    ``h`` there is ``h s`` in ``x``; a relative one (a parameter fitted unscaled) is as is.
    """
    absolute, relative = fd["abs_step"], fd["rel_step"]
    steps = {}
    for i, name in enumerate(fit_parameters):
        if absolute is not None and not np.isnan(absolute[i]):
            steps[name] = {"size": float(absolute[i] * scale[i]), "kind": "absolute"}
        else:
            steps[name] = {"size": float(relative[i]), "kind": "relative"}
    return steps
