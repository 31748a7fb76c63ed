"""Job files: a fit described in TOML, for ``mpicg fit JOB.toml``.

A job file has these tables (only ``model``, ``data`` and ``fit.parameters`` are required)::

    [model]
    name = "eclipsing_binary"      # a built-in model, or "package.module:callable"
    options = { resolution = 16 }  # keyword arguments for the model's constructor
    supersample = 1                # instants averaged per exposure (exposure integration)
    baseline = "level"             # "level" (per segment), "trend" (level and slope), "none"

    [data]
    file = "lightcurve.csv"        # text (whitespace or CSV), .npy, .npz or FITS; or
                                   # files = [...] (several; Kepler/K2/TESS files read as such)
    columns = ["time", "flux", "sigma"]   # names (header, npz keys, FITS columns) or indices
    # sigma = 1e-3                 # one uncertainty for every point, instead of a column
    # magnitudes = true            # the flux column is in magnitudes (and sigma too)
    # flux_column = "PDCSAP_FLUX"  # mission files: or "SAP_FLUX"
    # quality_bitmask = "default"  # mission files: "hard", "hardest", "none", or an integer
    # keep = { Flag = { min = 0 } }   # keep the rows whose column lies in the range
    # normalise = true             # divide each segment by its median flux (default: true for
                                   # mission files and magnitudes)
    # segments = "file"            # "file", "gap" (also split at gaps), "single"
    # segment_gap = 0.5            # d, with segments = "gap"
    # exposure_time = 0.0204       # d (default: a mission file's cadence, TIMEDEL)
    # time_label = "BJD_TDB - 2450000"   # what the times are, for plots

    [parameters]                   # values of the model's parameters (others: defaults)
    incl = 85.5

    [fit]
    parameters = ["incl", "r1"]    # the ones to vary, from their values above
    gtol = 1e-3                    # maxiter, norm, c1, c2, fd_scheme, scale, uncertainties,
                                   # priors_combine, expose_lnprobabilities, block_size,
                                   # sharing: as in optimizer_cg

    [steps]                        # finite-difference steps (default: from the scales)
    incl = 1e-4                    # absolute
    r1 = { size = 1e-5, kind = "relative" }

    [scales]                       # per parameter: "auto", "none" or a number (the rest:
    incl = 0.01                    # [fit] scale, itself "auto" by default)

    [priors]                       # distributions of mpicg.priors, by their "kind"
    incl = { kind = "uniform", low = 70.0, high = 90.0 }

    [output]
    directory = "fit-out"          # solution, progress file, history (default: JOB-out)
    progress_every_niters = 1      # 0: no progress file (signals still stop the fit)

Relative paths are relative to the job file; so are modules of a ``package.module:callable``
model, whose directory is put on ``sys.path``. Every mistake is an
:class:`~mpicg.errors.InputError` that names the file, the line and the key.

A job file is trusted like a Python script: ``[model] name = "package.module:callable"``
imports that module (running its top-level code) from the job's directory or ``sys.path``.
What is then *called* is checked first: only a :class:`~mpicg.ParameterizedModel` class, or
a factory whose return annotation is one, is called with ``[model] options``; a model
instance is used as it is; anything else (``"os:system"``, say) is refused uncalled.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
import re
import sys
import types
import typing
from dataclasses import asdict, dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..fitting import ParameterizedModel, check_block_size, check_fd_scheme, check_scale_value
from ..fitting.priors import check_priors_combine
from ..models.baseline import baseline_parameter_names
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
from .jobdata import DATA_KEYS, data_options

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["BASELINES", "BUILTIN_MODELS", "Job", "check_names", "load_job", "make_model",
           "read_fit_options", "read_output", "read_scales", "read_steps"]

#: Names of the built-in models (``[model] name``) and where they live.
BUILTIN_MODELS = {
    # options = { proximity = true }: with ellipsoidal variation and reflection.
    "eclipsing_binary": "mpicg.models.proximity:eclipsing_binary",
    "transit": "mpicg.models.transit:TransitModel",
    "batman": "mpicg.models.batman_adapter:BatmanTransit",
}

def _check_bool(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"`{name}` must be true or false; got {show_value(value, 60)}")
    return value


#: ``[fit]`` options and the library's own check of each, so each is validated in one place.
#: c1 and c2 are checked as a pair (0 < c1 < c2 < 1), after the others.
_FIT_OPTIONS = {
    "gtol": lambda v: check_nonnegative(v, "gtol"),
    "maxiter": lambda v: check_maxiter(v, 1),  # a job file always gives a number
    "norm": check_norm,
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
#: ``[model] baseline`` choices.
BASELINES = ("level", "trend", "none")

_SCHEMA = {
    "model": {"name", "options", "supersample", "baseline"},
    "data": {"file", "files", "columns", "sigma", *DATA_KEYS},
    "parameters": None,  # any names (checked against the model)
    "fit": {"parameters", *_FIT_OPTIONS},
    "steps": None,
    "scales": None,
    "priors": None,
    "output": {"directory", "progress_every_niters"},
    "phoebe": {"bundle", "solver", "dataset", "solution", "save_bundle"},
}


def _is_real(v) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def _is_int(v) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


def _key_lines(text: str) -> dict[str, int]:
    """Line numbers of the keys of a TOML text (``"table.key"`` -> line), for errors.

    A light scan, not a parser: table headers (``[a.b]``) and ``key = value`` lines. Keys
    inside inline tables or arrays are reported at their parent key's line.
    """
    header = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
    bare = r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'"""
    assignment = re.compile(rf"^\s*((?:{bare})(?:\s*\.\s*(?:{bare}))*)\s*=")

    def split(dotted: str) -> list[str]:
        return [p.strip("\"'") for p in re.findall(bare, dotted)]

    lines: dict[str, int] = {}
    table: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if m := header.match(line):
            table = split(m.group(1))
            lines.setdefault(".".join(table), number)
        elif m := assignment.match(line):
            lines.setdefault(".".join(table + split(m.group(1))), number)
    return lines


def _error(path, lines: dict[str, int], message: str, *key: str) -> InputError:
    """An InputError naming the file, the line (of ``key`` or its table) and the key."""
    line = next((lines[".".join(key[:n])] for n in range(len(key), 0, -1)
                 if ".".join(key[:n]) in lines), None)
    where = f"{path}" + (f", line {line}" if line else "")
    name = f"[{key[0]}] {'.'.join(key[1:])}" if len(key) > 1 else f"[{key[0]}]"
    return InputError(f"{where}: {name}: {message}")


def _show(value) -> str:
    return show_value(value, 60)


@dataclass
class Job:
    """A fit read from a job file, with paths resolved (JSON-safe via :meth:`to_dict`).

    Attributes
    ----------
    path : str
        The job file.
    model : str
        A built-in model name or ``"package.module:callable"``.
    model_options : dict
        Keyword arguments for the model.
    supersample : int
        Instants averaged per exposure (1: no exposure integration).
    baseline : str
        ``"level"``, ``"trend"`` or ``"none"``: what multiplies the model, per segment.
    data_files : list of str
        The light-curve files (absolute paths).
    files_key : str
        ``"file"`` or ``"files"``: the key that named them (for errors).
    columns : list
        Time, flux and (unless :attr:`sigma` is set) sigma: names or indices (tables).
    columns_given : bool
        Whether the job file gave ``columns``.
    sigma : float or None
        One uncertainty for every point.
    magnitudes : bool
        The flux column (and sigma) are magnitudes.
    flux_column, quality_bitmask : str, int or None
        For Kepler, K2 and TESS files (None: ``PDCSAP_FLUX`` and the ``"default"`` mask).
    keep : dict
        Column -> ``{"min", "max"}``: the rows to keep.
    normalise : bool or None
        Divide each segment by its median flux (None: for mission files and magnitudes).
    segments : str
        ``"file"``, ``"gap"`` or ``"single"``.
    segment_gap : float
        Gap (d) that starts a new segment with ``segments = "gap"``.
    exposure_time : float or None
        Exposure time (d) of every point (None: a mission file's cadence, else 0).
    time_label : str or None
        What the times are, for plots (None: from a mission file's header).
    values : dict
        Values of model parameters (the others keep the model's defaults).
    fit_parameters : list of str
        The parameters to vary.
    options : dict
        :func:`mpicg.optimizer_cg` options from ``[fit]``.
    steps : dict
        Name -> size (absolute) or ``{"size", "kind"}``.
    scales : dict
        Name -> ``"auto"``, ``"none"`` or a number (``[scales]``).
    priors : dict
        Name -> distribution dict or list of them.
    output : str
        The output directory (absolute path).
    progress_every_niters : int or None
        Progress-file period in iterations (0: none; None: a PHOEBE solver's own).
    search_path : str
        Directory put on ``sys.path`` to import a ``package.module:callable`` model.
    phoebe : dict or None
        A PHOEBE bundle's solver to run instead of a model and data (see
        :mod:`mpicg.cli.phoebe`): ``bundle`` (absolute path), ``solver``, ``dataset``,
        ``solution`` (the PHOEBE solution's label), ``save_bundle`` (absolute path or None).
    """

    path: str
    model: str
    data_files: list[str]
    fit_parameters: list[str]
    output: str
    search_path: str
    model_options: dict[str, Any] = field(default_factory=dict)
    supersample: int = 1
    baseline: str = "level"
    files_key: str = "file"
    columns: list = field(default_factory=lambda: ["time", "flux", "sigma"])
    columns_given: bool = False
    sigma: float | None = None
    magnitudes: bool = False
    flux_column: str | None = None
    quality_bitmask: str | int | None = None
    keep: dict[str, dict[str, float]] = field(default_factory=dict)
    normalise: bool | None = None
    segments: str = "file"
    segment_gap: float = 0.5
    exposure_time: float | None = None
    time_label: str | None = None
    values: dict[str, float] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, Any] = field(default_factory=dict)
    scales: dict[str, Any] = field(default_factory=dict)
    priors: dict[str, Any] = field(default_factory=dict)
    progress_every_niters: int | None = 1
    lines: dict[str, int] = field(default_factory=dict)  # "table.key" -> line, for errors
    phoebe: dict[str, Any] | None = None

    @property
    def data_file(self) -> str:
        """The (first) light-curve file."""
        return self.data_files[0]

    def to_dict(self) -> dict:
        """Everything as plain data (what ``job.json`` in the output directory holds)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Job:
        """The job that :meth:`to_dict` described."""
        return cls(**data)

    def error(self, message: str, *key: str) -> InputError:
        """An InputError naming the job file, the key and (when known) its line."""
        return _error(self.path, self.lines, message, *key)


def load_job(path) -> Job:
    """Read and check a job file.

    Parameters
    ----------
    path : str or path
        The TOML file.

    Returns
    -------
    Job
        The job, its paths made absolute. The model's parameter names are checked later, by
        :func:`make_model` and :func:`check_names`, once the model exists.

    Raises
    ------
    InputError
        A missing or unreadable file, bad TOML, an unknown table or key, a value of the
        wrong type, a missing required key: naming the file, the line and the key.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"job file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"job file {str(path)!r} cannot be read: {e}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path}: not valid TOML: {e}") from None
    lines = _key_lines(text)

    def error(message: str, *key: str) -> InputError:
        return _error(path, lines, message, *key)

    here = path.resolve().parent

    for table, value in doc.items():
        if table not in _SCHEMA:
            raise error(f"unknown table; a job file has {sorted(_SCHEMA)}", table)
        if not isinstance(value, dict):
            raise error(f"must be a table ([{table}]); got {_show(value)}", table)
        allowed = _SCHEMA[table]
        for key in value:
            if allowed is not None and key not in allowed:
                raise error(f"unknown key; [{table}] takes {sorted(allowed)}", table, key)
    if "phoebe" in doc:
        from .phoebe import load_phoebe_job

        return load_phoebe_job(path, doc, lines, error)
    for table in ("model", "data", "fit"):
        if table not in doc:
            raise InputError(f"{path}: the table [{table}] is missing")

    def required(table: str, key: str):
        if key not in doc[table]:
            raise error("is missing (required)", table, key)
        return doc[table][key]

    def string(table: str, key: str, value) -> str:
        if not isinstance(value, str) or not value:
            raise error(f"must be a non-empty string; got {_show(value)}", table, key)
        return value

    model = string("model", "name", required("model", "name"))
    options = doc["model"].get("options", {})
    if not isinstance(options, dict):
        raise error(f"must be a table of keyword arguments; got {_show(options)}",
                       "model", "options")

    supersample = doc["model"].get("supersample", 1)
    if not (_is_int(supersample) and supersample >= 1):
        raise error(f"must be an integer >= 1; got {_show(supersample)}", "model",
                    "supersample")
    baseline = doc["model"].get("baseline", "level")
    if baseline not in BASELINES:
        raise error(f"must be one of {list(BASELINES)}; got {_show(baseline)}", "model",
                    "baseline")

    data = doc["data"]
    if ("file" in data) == ("files" in data):
        raise error("give the light curve as file = '...' or files = ['...', ...] (one "
                    "of them)", "data", *(("files",) if "files" in data else ()))
    files_key = "file" if "file" in data else "files"
    if files_key == "file":
        data_files = [here / string("data", "file", data["file"])]
    else:
        given = data["files"]
        if (not isinstance(given, list) or not given
                or not all(isinstance(f, str) and f for f in given)):
            raise error(f"must be a non-empty list of file names; got {_show(given)}",
                        "data", "files")
        data_files = [here / f for f in given]
    sigma = data.get("sigma")
    if sigma is not None and not (_is_real(sigma) and math.isfinite(sigma) and sigma > 0):
        raise error(f"must be a number > 0; got {_show(sigma)}", "data", "sigma")
    columns = data.get("columns", ["time", "flux"] if sigma is not None
                       else ["time", "flux", "sigma"])
    n_columns = 2 if sigma is not None else 3
    if (not isinstance(columns, list) or len(columns) != n_columns
            or not all((isinstance(c, str) and c) or (_is_int(c) and c >= 0) for c in columns)):
        what = "time, flux" + ("" if sigma is not None else ", sigma")
        raise error(f"must list {n_columns} columns ({what}) as names or indices from 0"
                       + ("" if sigma is None else " (sigma is given)")
                       + f"; got {_show(columns)}", "data", "columns")

    data_keys = data_options(data, error)

    values = {}
    for name, value in doc.get("parameters", {}).items():
        if not (_is_real(value) and math.isfinite(value)):
            raise error(f"must be a finite number; got {_show(value)}", "parameters", name)
        values[name] = float(value)

    fit = doc["fit"]
    fit_parameters = required("fit", "parameters")
    if (not isinstance(fit_parameters, list) or not fit_parameters
            or not all(isinstance(p, str) and p for p in fit_parameters)):
        raise error(f"must be a non-empty list of parameter names; got "
                       f"{_show(fit_parameters)}", "fit", "parameters")
    fit_options = read_fit_options(fit, error)
    steps = read_steps(doc.get("steps", {}), error)
    scales = read_scales(doc.get("scales", {}), error)

    priors = {}
    for name, given in doc.get("priors", {}).items():
        entries = given if isinstance(given, list) else [given]
        if not entries or not all(isinstance(e, dict) and "kind" in e for e in entries):
            raise error(f"must be a distribution {{ kind = ..., ... }} or a list of them; "
                           f"got {_show(given)}", "priors", name)
        priors[name] = entries

    directory, every = read_output(doc.get("output", {}), error, f"{path.stem}-out", 1)

    return Job(path=str(path), model=model, model_options=options, supersample=supersample,
               baseline=baseline, data_files=[str(f) for f in data_files],
               files_key=files_key, columns=columns, columns_given="columns" in data,
               sigma=sigma, **data_keys, values=values,
               fit_parameters=list(fit_parameters), options=fit_options, steps=steps,
               scales=scales, priors=priors, output=str(here / directory),
               progress_every_niters=int(every), search_path=str(here), lines=lines)


def read_fit_options(fit: dict, error) -> dict[str, Any]:
    """The ``[fit]`` options of :data:`_FIT_OPTIONS` given in ``fit``, each checked."""
    fit_options = {}
    for key, check in _FIT_OPTIONS.items():
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
                            f"'relative' }}; got {_show(step)}", "steps", name)
            size, kind = step["size"], step.get("kind", "absolute")
        else:
            size, kind = step, "absolute"
        if not (_is_real(size) and math.isfinite(size) and size > 0):
            raise error(f"a step must be a number > 0; got {_show(size)}", "steps", name)
        if kind not in ("absolute", "relative"):
            raise error(f"kind must be 'absolute' or 'relative'; got {_show(kind)}",
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
        raise error(f"must be a non-empty string; got {_show(directory)}", "output",
                    "directory")
    every = out.get("progress_every_niters", default_every)
    if every is not None and not (_is_int(every) and every >= 0):
        raise error(f"must be an integer >= 0; got {_show(every)}", "output",
                    "progress_every_niters")
    return directory, every


def make_model(job: Job) -> ParameterizedModel:
    """Build the job's model and check the parameter names the job uses.

    Raises
    ------
    InputError
        An unknown built-in name, a module or callable that cannot be imported, a
        constructor that rejects the options, something that is not a model with named
        parameters, or a parameter name the model does not have.
    """
    spec = BUILTIN_MODELS.get(job.model, job.model)
    if ":" not in spec:
        raise job.error(f"{job.model!r} is not a built-in model {sorted(BUILTIN_MODELS)} "
                        "nor 'package.module:callable'", "model", "name")
    module_name, _, attribute = spec.partition(":")
    if job.search_path not in sys.path:
        sys.path.insert(0, job.search_path)
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise job.error(f"cannot import {module_name!r}: {e}", "model", "name") from None
    factory = getattr(module, attribute, None)
    if factory is None:
        raise job.error(f"module {module_name!r} has no {attribute!r}", "model", "name")
    if not isinstance(factory, ParameterizedModel) and not _makes_a_model(factory):
        raise job.error(f"{job.model!r} is a {type(factory).__name__}, not an "
                        "mpicg.ParameterizedModel class, a model instance, or a factory "
                        "annotated to return one (`def make(...) -> MyModel:`); it was not "
                        "called", "model", "name")
    if isinstance(factory, ParameterizedModel):
        if job.model_options:
            raise job.error(f"{job.model!r} is a model object, not a constructor: it takes "
                            "no options", "model", "options")
        model = factory
    else:
        try:
            model = factory(**job.model_options)
        except (TypeError, ValueError) as e:
            raise job.error(f"{job.model!r} rejects the options {job.model_options}: {e}",
                            "model", "options") from None
    if not isinstance(model, ParameterizedModel):
        raise job.error(f"{job.model!r} made a {type(model).__name__}, not an "
                        "mpicg.ParameterizedModel (a model with named parameters)",
                        "model", "name")
    # The baseline's names depend on the number of segments, known once the data are read:
    # here any of them may be used; the observation model is checked again once it exists.
    check_names(job, model.parameter_names, may_be_baseline=True)
    return model


def _makes_a_model(target) -> bool:
    """True for a ParameterizedModel class, or a callable annotated to return one.

    Decided without calling ``target``: a job file's model name may point anywhere.
    """
    if isinstance(target, functools.partial):
        return _makes_a_model(target.func)
    if inspect.isclass(target):
        return issubclass(target, ParameterizedModel)
    if not (inspect.isfunction(target) or inspect.ismethod(target)):
        return False
    try:
        returned = typing.get_type_hints(target).get("return")
    except Exception:  # an annotation that does not resolve: not a declared model factory
        return False
    kinds = typing.get_args(returned) if typing.get_origin(returned) in (
        typing.Union, types.UnionType) else (returned,)
    return all(inspect.isclass(k) and issubclass(k, ParameterizedModel) for k in kinds)


def _baseline_name(job: Job, name: str) -> bool:
    """Whether ``name`` could be a parameter of the job's baseline (see :class:`Baseline`)."""
    if job.baseline == "none":
        return False
    kinds = "level|slope" if job.baseline == "trend" else "level"
    return re.fullmatch(rf"(?:{kinds})(?:_[1-9][0-9]*)?", name) is not None


def check_names(job: Job, names, may_be_baseline: bool = False) -> None:
    """InputError for the first name in the job that is not one of the model's ``names``.

    With ``may_be_baseline``, names of the baseline's parameters (``level``, ``level_2``,
    ``slope``, ...) pass too, as far as the job's ``[model] baseline`` allows them.
    """
    known = list(names)
    uses = [("fit", "parameters", job.fit_parameters)]
    uses += [(table, None, list(given)) for table, given in
             (("parameters", job.values), ("steps", job.steps), ("scales", job.scales),
              ("priors", job.priors))]
    for table, key, used in uses:
        for name in used:
            if name not in known and not (may_be_baseline and _baseline_name(job, name)):
                where = (table, key) if key else (table, name)
                more = ""
                if may_be_baseline and job.baseline != "none":
                    added = baseline_parameter_names(1, job.baseline == "trend")
                    more = f", and the baseline's {added} (numbered _1, _2, ... per segment)"
                raise job.error(f"{name!r} is not a parameter of the model; it has "
                                f"{known}{more}", *where)
