"""The tables of a job file that any job has: ``[fit]``, ``[steps]``, ``[scales]``, ``[output]``.

Each value is checked by the library's own check (the one :func:`mpicg.optimizer_cg` uses),
so an option is validated in one place; errors name the table, the key and the value (the
caller's ``error`` adds the file and the line). :mod:`.jobfile` and PHOEBE jobs
(:mod:`.phoebe`) read them alike.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

from ..errors import InputError
from ..fitting import check_block_size, check_fd_scheme, check_scale_value
from ..fitting.priors import check_priors_combine
from ..optimize import (
    DEFAULT_C1,
    DEFAULT_C2,
    check_line_search_constants,
    check_maxiter,
    check_nonnegative,
    check_norm,
    show_value,
)
from ..parallel import check_sharing

__all__ = ["FIT_OPTIONS", "is_int", "is_real", "read_fit_options", "read_output",
           "read_scales", "read_steps", "show"]


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"`{name}` must be true or false; got {show(value)}")
    return value


#: ``[fit]`` options and the library's own check of each, so each is validated in one place.
#: c1 and c2 are checked as a pair (0 < c1 < c2 < 1), after the others.
FIT_OPTIONS = {
    "gtol": lambda v: check_nonnegative(v, "gtol"),
    "maxiter": lambda v: check_maxiter(v, 1),  # a job file always gives a number
    "norm": lambda v: check_norm(v, zero_allowed=False),
    "c1": None,
    "c2": None,
    "fd_scheme": check_fd_scheme,
    "scale": check_scale_value,
    "uncertainties": lambda v: _check_bool(v, "uncertainties"),
    "priors_combine": check_priors_combine,
    "expose_lnprobabilities": lambda v: _check_bool(v, "expose_lnprobabilities"),
    "block_size": check_block_size,
    "sharing": check_sharing,
}


def _without_name(error: Exception, key: str) -> str:
    """The library's message without its leading "`key` " (the job-file error names it)."""
    text = str(error)
    prefix = f"`{key}` "
    return text[len(prefix):] if text.startswith(prefix) else text


def is_real(v) -> bool:
    """A real number (TOML's true and false are not)."""
    return isinstance(v, Real) and not isinstance(v, bool)


def is_int(v) -> bool:
    """An integer (TOML's true and false are not)."""
    return isinstance(v, Integral) and not isinstance(v, bool)


def show(value) -> str:
    """A value as an error message quotes it (at most 60 characters)."""
    return show_value(value, 60)


def read_fit_options(fit: dict, error) -> dict[str, Any]:
    """The ``[fit]`` options of :data:`FIT_OPTIONS` given in ``fit``, each checked."""
    fit_options = {}
    for key, check in FIT_OPTIONS.items():
        if key in fit:
            fit_options[key] = fit[key]
            if check is not None:
                try:
                    fit_options[key] = check(fit[key])
                except ValueError as e:  # InputError too
                    raise error(_without_name(e, key), "fit", key) from None
    if "c1" in fit_options or "c2" in fit_options:
        # Together they must satisfy 0 < c1 < c2 < 1: the library's own check, with
        # optimizer_cg's default for the one not given.
        given = {"c1": DEFAULT_C1, "c2": DEFAULT_C2} | fit_options
        try:
            check_line_search_constants(given["c1"], given["c2"])
        except ValueError as e:
            raise error(str(e), "fit", "c1" if "c1" in fit_options else "c2") from None
    return fit_options


def read_steps(table: dict, error) -> dict[str, dict]:
    """The ``[steps]`` table: name -> ``{"size": float, "kind": "absolute"|"relative"}``."""
    steps = {}
    for name, step in table.items():
        if isinstance(step, dict):
            unknown = set(step) - {"size", "kind"}
            if unknown or "size" not in step:
                raise error(f"must be a number or {{ size = ..., kind = 'absolute' or "
                            f"'relative' }}; got {show(step)}", "steps", name)
            size, kind = step["size"], step.get("kind", "absolute")
        else:
            size, kind = step, "absolute"
        if not (is_real(size) and math.isfinite(size) and size > 0):
            raise error(f"a step must be a number > 0; got {show(size)}", "steps", name)
        if kind not in ("absolute", "relative"):
            raise error(f"kind must be 'absolute' or 'relative'; got {show(kind)}",
                        "steps", name)
        steps[name] = {"size": float(size), "kind": kind}
    return steps


def read_scales(table: dict, error) -> dict[str, Any]:
    """The ``[scales]`` table: name -> ``"auto"``, ``"none"`` or a number, checked."""
    scales = {}
    for name, given in table.items():
        try:
            scales[name] = check_scale_value(given, name)
        except InputError as e:
            raise error(_without_name(e, name), "scales", name) from None
    return scales


def read_output(out: dict, error, default_directory: str, default_every):
    """The ``[output]`` table: (directory, progress_every_niters), checked."""
    directory = out.get("directory", default_directory)
    if not isinstance(directory, str) or not directory:
        raise error(f"must be a non-empty string; got {show(directory)}", "output",
                    "directory")
    every = out.get("progress_every_niters", default_every)
    if every is not None and not (is_int(every) and every >= 0):
        raise error(f"must be an integer >= 0; got {show(every)}", "output",
                    "progress_every_niters")
    return directory, every
