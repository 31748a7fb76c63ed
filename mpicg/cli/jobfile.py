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

import math
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from .jobdata import DATA_KEYS, data_options
from .jobtables import (
    FIT_OPTIONS,
    is_int,
    is_real,
    read_fit_options,
    read_output,
    read_scales,
    read_steps,
    show,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["BASELINES", "Job", "load_job"]


#: ``[model] baseline`` choices.
BASELINES = ("level", "trend", "none")

_SCHEMA = {
    "model": {"name", "options", "supersample", "baseline"},
    "data": {"file", "files", "columns", "sigma", *DATA_KEYS},
    "parameters": None,  # any names (checked against the model)
    "fit": {"parameters", *FIT_OPTIONS},
    "steps": None,
    "scales": None,
    "priors": None,
    "output": {"directory", "progress_every_niters"},
    "phoebe": {"bundle", "solver", "dataset", "solution", "save_bundle"},
}


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


def job_error(job_path, message: str, *key: str) -> InputError:
    """An InputError naming the job file, the line of ``key`` (or of its table) and the key.

    For checks made after :func:`load_job`, once the model and the data exist.
    """
    try:
        lines = _key_lines(Path(job_path).read_text())
    except (OSError, UnicodeDecodeError):
        lines = {}
    return _error(job_path, lines, message, *key)


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
        :func:`.jobmodel.make_model` and :func:`.jobmodel.check_names`, once the model exists.

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
            raise error(f"must be a table ([{table}]); got {show(value)}", table)
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
            raise error(f"must be a non-empty string; got {show(value)}", table, key)
        return value

    model = string("model", "name", required("model", "name"))
    options = doc["model"].get("options", {})
    if not isinstance(options, dict):
        raise error(f"must be a table of keyword arguments; got {show(options)}",
                       "model", "options")

    supersample = doc["model"].get("supersample", 1)
    if not (is_int(supersample) and supersample >= 1):
        raise error(f"must be an integer >= 1; got {show(supersample)}", "model",
                    "supersample")
    baseline = doc["model"].get("baseline", "level")
    if baseline not in BASELINES:
        raise error(f"must be one of {list(BASELINES)}; got {show(baseline)}", "model",
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
            raise error(f"must be a non-empty list of file names; got {show(given)}",
                        "data", "files")
        data_files = [here / f for f in given]
    sigma = data.get("sigma")
    if sigma is not None and not (is_real(sigma) and math.isfinite(sigma) and sigma > 0):
        raise error(f"must be a number > 0; got {show(sigma)}", "data", "sigma")
    columns = data.get("columns", ["time", "flux"] if sigma is not None
                       else ["time", "flux", "sigma"])
    n_columns = 2 if sigma is not None else 3
    if (not isinstance(columns, list) or len(columns) != n_columns
            or not all((isinstance(c, str) and c) or (is_int(c) and c >= 0) for c in columns)):
        what = "time, flux" + ("" if sigma is not None else ", sigma")
        raise error(f"must list {n_columns} columns ({what}) as names or indices from 0"
                       + ("" if sigma is None else " (sigma is given)")
                       + f"; got {show(columns)}", "data", "columns")
    if len({(type(c), c) for c in columns}) < len(columns):
        raise error(f"names a column twice: time, flux and sigma must be different columns; "
                    f"got {show(columns)}", "data", "columns")

    data_keys = data_options(data, error)

    values = {}
    for name, value in doc.get("parameters", {}).items():
        if not (is_real(value) and math.isfinite(value)):
            raise error(f"must be a finite number; got {show(value)}", "parameters", name)
        values[name] = float(value)

    fit = doc["fit"]
    fit_parameters = required("fit", "parameters")
    if (not isinstance(fit_parameters, list) or not fit_parameters
            or not all(isinstance(p, str) and p for p in fit_parameters)):
        raise error(f"must be a non-empty list of parameter names; got "
                       f"{show(fit_parameters)}", "fit", "parameters")
    fit_options = read_fit_options(fit, error)
    steps = read_steps(doc.get("steps", {}), error)
    scales = read_scales(doc.get("scales", {}), error)

    priors = {}
    for name, given in doc.get("priors", {}).items():
        entries = given if isinstance(given, list) else [given]
        if not entries or not all(isinstance(e, dict) and "kind" in e for e in entries):
            raise error(f"must be a distribution {{ kind = ..., ... }} or a list of them; "
                           f"got {show(given)}", "priors", name)
        priors[name] = entries

    directory, every = read_output(doc.get("output", {}), error, f"{path.stem}-out", 1)

    return Job(path=str(path), model=model, model_options=options, supersample=supersample,
               baseline=baseline, data_files=[str(f) for f in data_files],
               files_key=files_key, columns=columns, columns_given="columns" in data,
               sigma=sigma, **data_keys, values=values,
               fit_parameters=list(fit_parameters), options=fit_options, steps=steps,
               scales=scales, priors=priors, output=str(here / directory),
               progress_every_niters=int(every), search_path=str(here), lines=lines)
