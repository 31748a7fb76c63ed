"""``mpicg fit JOB.toml`` and ``mpicg resume PROGRESS_FILE``: a job file's fit, collectively.

Every rank reads the job file and its data and calls :func:`mpicg.optimizer_cg`; rank 0
writes the output directory (:mod:`.output`).

Every step that can fail on some ranks only ends with a collective verdict, so that every
rank stops at the same point with the same exit code: reading the job, its model and data
(every rank), preparing and locking the output directory (rank 0), writing the solution
(rank 0). Everything is checked before the output directory is touched; the fit's own
files appear once its start check has passed, under ``.partial`` names until its solution
is complete.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fitting import (
    NamedFit,
    ParameterizedModel,
    Solution,
    Step,
    WithValues,
    load_checkpoint,
    named_fit,
)
from ..fitting import optimizer_cg as _optimizer_cg
from ..fitting.priors import distribution_from_dict
from ..models import Baseline, Integrated
from ..optimize import LOG
from ..parallel import collective_verdict, is_root, launch_size
from .history import HistoryFile, history_until
from .jobfile import Job, job_error, load_job
from .jobmodel import check_names, make_model
from .observations import LONG_CADENCE, Observations, read_observations
from .output import (
    HISTORY,
    JOB,
    PARTIAL_HISTORY,
    PARTIAL_JOB,
    PROGRESS,
    SOLUTION,
    OutputLock,
    begin,
    commit,
    prepare_directory,
    stopped_fit,
)

__all__ = ["HISTORY", "JOB", "PROGRESS", "SOLUTION", "JobInputs", "check_job", "fit_command",
           "observation_model", "read_job_inputs", "read_job_record", "resume_command",
           "run_fit"]


def _say(*args) -> None:
    if is_root():
        print(*args, flush=True)


def _command() -> str:
    return "mpicg " + " ".join(sys.argv[1:])


def read_job_record(directory: Path) -> Job:
    """The job an output directory was written for: its stopped fit's, else its last fit's."""
    directory = Path(directory)
    path = directory / PARTIAL_JOB
    if not path.exists():
        path = directory / JOB
    try:
        return Job.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise InputError(f"{str(directory / JOB)!r} does not exist: {str(directory)!r} is "
                         "not the output directory of an mpicg job") from None
    except (ValueError, TypeError) as e:
        raise InputError(f"{str(path)!r} is not an mpicg job record: {e}") from None
    except OSError as e:
        raise InputError(f"{str(path)!r} cannot be read: {e.strerror or e}") from None


@dataclass(frozen=True)
class JobInputs:
    """What a job file's fit needs, read and checked.

    Attributes
    ----------
    model : ParameterizedModel
        The model, its parameters' values set from ``[parameters]``.
    times, flux, sigma : ndarray
        The light curve, shape (n_times,).
    priors : dict
        Name -> list of distributions.
    steps : dict
        Name -> :class:`~mpicg.Step`.
    observations : Observations
        The light curve with its segments, exposure times and time label.
    """

    model: WithValues
    times: np.ndarray
    flux: np.ndarray
    sigma: np.ndarray
    priors: dict
    steps: dict
    observations: Observations


def observation_model(job: Job, observations: Observations,
                      model: ParameterizedModel | None = None) -> WithValues:
    """The job's model as it sees the observations: integrated, with a baseline, valued.

    The model of ``[model] name`` is averaged over each segment's exposure time when
    ``supersample`` > 1 (:class:`~mpicg.models.Integrated`), multiplied by a level (and
    trend) per segment unless ``baseline = "none"`` (:class:`~mpicg.models.Baseline`), and
    its parameters take the values of ``[parameters]``.

    ``model`` is the job's model if already built (:func:`~.jobmodel.make_model`).

    Raises
    ------
    InputError
        Supersampling without an exposure time, a baseline whose names clash with the
        model's, or a parameter name the model does not have (naming the key and line).
    """
    model = make_model(job) if model is None else model
    exposures = observations.exposure_times
    if job.supersample > 1:
        if not any(e > 0 for e in exposures):
            raise job.error("integrating over the exposure needs its length: give [data] "
                            "exposure_time (d)", "model", "supersample")
        model = Integrated(model, exposures, job.supersample, observations.segments)
    elif max(exposures) > LONG_CADENCE and is_root():
        warnings.warn(f"exposures of {max(exposures) * 1440:.1f} min are fitted with an "
                      "instantaneous model, which rounds off no contact of an eclipse: set "
                      "[model] supersample (e.g. 7) to integrate over them", stacklevel=2)
    if job.baseline != "none":
        try:
            model = Baseline(model, observations.segments, trend=job.baseline == "trend")
        except ValueError as e:
            raise job.error(str(e), "model", "baseline") from None
    check_names(job, model.parameter_names)
    return WithValues(model, tuple(job.values.items()))


def read_job_inputs(job: Job) -> JobInputs:
    """The model, data, priors and steps of a job; InputError naming the job file's keys."""
    model = make_model(job)  # model errors first: they need no data
    observations = read_observations(job)
    model = observation_model(job, observations, model)
    times, flux, sigma = observations.times, observations.flux, observations.sigma
    priors = {}
    for name, entries in job.priors.items():
        try:
            priors[name] = [distribution_from_dict(d) for d in entries]
        except InputError as e:
            raise job.error(str(e), "priors", name) from None
    steps = {}
    for name, step in job.steps.items():
        try:
            steps[name] = Step(step["size"], step["kind"])
        except InputError as e:
            raise job.error(str(e), "steps", name) from None
    return JobInputs(model, times, flux, sigma, priors, steps, observations)


def check_job(job: Job) -> tuple[JobInputs, NamedFit]:
    """Read and check everything a job's fit needs, on this process; write nothing.

    The model, the data, the priors and steps, the names, the start inside the priors'
    support: all that :func:`mpicg.optimizer_cg` would reject before its first evaluation.

    Raises
    ------
    InputError
        Naming the job file's key, or the argument, and the value.
    """
    inputs = read_job_inputs(job)
    options = _fit_options(job)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (the fit gives them: once is enough)
            setup = named_fit(inputs.model, inputs.times, inputs.flux, inputs.sigma,
                              fit_parameters=job.fit_parameters, priors=inputs.priors,
                              priors_combine=options.get("priors_combine", "and"),
                              steps=inputs.steps,
                              fd_scheme=options.get("fd_scheme", "forward"),
                              scale=options.get("scale", "auto"),
                              uncertainties=options.get("uncertainties", True),
                              block_size=options.get("block_size"))
    except InputError as e:
        key = _job_key_of(str(e))
        if key is None:
            raise
        raise job_error(job.path, str(e), *key) from None
    return inputs, setup


def _job_key_of(message: str) -> tuple[str, ...] | None:
    """The job file's key that a named fit's error is about, from its message (or None)."""
    if m := re.search(r"start value \S+ of parameter '([^']+)'", message):
        return ("parameters", m.group(1))
    for pattern, key in (("`fit_parameters`", ("fit", "parameters")),
                         ("`steps`", ("steps",)), ("`priors`", ("priors",))):
        if pattern in message:
            return key
    return None


def _fit_options(job: Job) -> dict:
    """The job's ``[fit]`` options for :func:`mpicg.optimizer_cg`, ``[scales]`` folded in."""
    options = dict(job.options)
    if job.scales:  # per parameter; the others take [fit] scale
        default = options.get("scale", "auto")
        options["scale"] = {n: job.scales.get(n, default) for n in job.fit_parameters}
    return options


def run_fit(job: Job, *, resume_from: Path | None = None, maxiter: int | None = None,
            command: str | None = None) -> Solution:
    """Run a job's fit on every rank of the launch; rank 0 writes the output directory.

    Parameters
    ----------
    job : Job
        The job (see :mod:`.jobfile`).
    resume_from : path, optional
        A progress file to continue from (exactly, with any number of ranks).
    maxiter : int, optional
        With ``resume_from``: at most this many iterations in all (default: the progress
        file's, or the job's when it sets one).
    command : str, optional
        What runs the fit, for the output directory's lock (default: this command line).

    Returns
    -------
    Solution
        The same on every rank.

    Raises
    ------
    InputError
        Bad input, on every rank (rank 0 reports it), before anything is written.
    """
    if job.phoebe is not None:
        from . import phoebe

        inputs = phoebe.read_phoebe_job(job)  # collective: every rank gets the verdict
        names, start = phoebe.fitted_and_start(inputs)
    else:
        error, inputs = None, None
        try:
            inputs, _ = check_job(job)
        except Exception as e:
            error = e
        collective_verdict(error, "while reading the job, its model and its data")
        names = job.fit_parameters
        start = [inputs.model.defaults[n] for n in names]
    out = Path(job.output)
    progress_file = Path(resume_from) if resume_from is not None else out / PROGRESS
    root = is_root()
    lock, error, resumed_at = None, None, None
    if root:
        try:
            prepare_directory(out)
            lock = OutputLock(out, command or _command())
            if resume_from is not None:  # a bad progress file: one error, nothing touched
                checkpoint = load_checkpoint(progress_file)
                resumed_at = checkpoint.state.k
                _note_kept_options(job, checkpoint.options)
        except Exception as e:
            error = e
    try:
        collective_verdict(error, "while preparing the output directory")
        solution = _fit(job, inputs, (names, start), out, progress_file, resume_from,
                        resumed_at, maxiter)
        error = None
        if root:
            try:
                commit(out, json.dumps(solution.to_dict(), indent=2) + "\n")
            except OSError as e:
                error = InputError(f"cannot write the solution into {str(out)!r}: "
                                   f"{e.strerror or e}")
        collective_verdict(error, "while writing the solution", signals=False)
        _say(solution.summary())
        _say(f"wrote {out / SOLUTION}; plots: mpicg report {shlex.quote(str(out / SOLUTION))}")
        if job.phoebe is not None:
            error = None
            try:
                phoebe.write_phoebe_outputs(job, solution, say=_say)  # rank 0 writes
            except Exception as e:
                error = e
            collective_verdict(error, "while writing the PHOEBE solution", signals=False)
    finally:
        if lock is not None:
            lock.release()
    return solution


def _fit(job: Job, inputs, fitted: tuple[list[str], list[float]], out: Path,
         progress_file: Path, resume_from, resumed_at: int | None,
         maxiter: int | None) -> Solution:
    """The collective fit; rank 0 keeps the history (staged from the first row on).

    ``inputs`` is a :class:`JobInputs`, or a PHOEBE job's prepared bundle; ``fitted`` the
    fitted parameters' names and start values (the history's columns and first row).
    """
    names, start = fitted
    handler = None
    if is_root():
        def start_writing() -> None:
            rows = None
            if resumed_at is not None:
                source = out / PARTIAL_HISTORY
                rows = history_until(source if source.exists() else out / HISTORY,
                                     resumed_at, handler.header())
            begin(out, job.to_dict(), rows)

        handler = HistoryFile(out / PARTIAL_HISTORY, names, start,
                              on_first_row=start_writing)
        LOG.addHandler(handler)
        if LOG.getEffectiveLevel() > logging.INFO:
            LOG.setLevel(logging.INFO)
    what = f"resuming from {progress_file}" if resume_from is not None else "starting"
    if job.phoebe is not None:
        from . import phoebe

        about, descriptions = phoebe.describe(job, inputs), []
    else:
        files = ", ".join(Path(f).name for f in job.data_files)
        about = (f"model {job.model!r}, {inputs.times.size} observations from {files}; "
                 f"fitting {', '.join(job.fit_parameters)}")
        descriptions = inputs.observations.descriptions
    _say(f"mpicg fit {job.path}: {about} on {launch_size() or 1} rank(s), {what}; "
         f"output in {out}")
    for line in descriptions:
        _say(f"  {line}")
    callback = None if handler is None else handler.parameters_at
    try:
        started = time.perf_counter()
        with warnings.catch_warnings():
            # A resumed fit's edited job-file options: _note_kept_options says so, in the
            # job file's words; the library's warning would say it again.
            warnings.filterwarnings("ignore", message="resuming from .* keeps the options")
            if job.phoebe is not None:
                solution = phoebe.fit_phoebe_job(job, inputs, progress_file, resume_from,
                                                 maxiter=maxiter, callback=callback)
            else:
                # (a resumed fit: the progress file's maxiter unless set)
                options = _fit_options(job)
                if maxiter is not None:
                    options["maxiter"] = maxiter
                solution = _optimizer_cg(
                    inputs.model, inputs.times, inputs.flux, inputs.sigma,
                    fit_parameters=job.fit_parameters, priors=inputs.priors, steps=inputs.steps,
                    **options, progress_every_niters=job.progress_every_niters,
                    progress_file=progress_file, resume=resume_from, callback=callback)
    finally:
        if handler is not None:
            LOG.removeHandler(handler)
    _say(f"the fit took {time.perf_counter() - started:.1f} s")
    return solution


def _note_kept_options(job: Job, stored: dict) -> None:
    """Say which of the job file's CG options a resumed fit does not use (rank 0)."""
    options = _fit_options(job)
    changed = [f"{k} {stored[k]!r} (the job file says {options[k]!r})"
               for k in ("gtol", "norm", "c1", "c2")
               if k in options and k in stored and float(options[k]) != float(stored[k])]
    if changed:
        _say("note: a resumed fit keeps the options it started with: "
             + "; ".join(changed) + " (only maxiter may change)")


def fit_command(job_file, resume_if_stopped: bool = False, command: str | None = None
                ) -> Solution:
    """``mpicg fit``: read the job file and run it (resuming a stopped fit if asked)."""
    error, job = None, None
    try:
        job = load_job(job_file)
    except Exception as e:
        error = e
    collective_verdict(error, "while reading the job file")
    resume = None
    if resume_if_stopped and stopped_fit(job.output):
        resume = Path(job.output) / PROGRESS
    return run_fit(job, resume_from=resume, command=command)


def resume_command(progress_file, maxiter: int | None = None,
                   command: str | None = None) -> Solution:
    """``mpicg resume``: continue the job whose output directory holds ``progress_file``."""
    progress_file = Path(progress_file)
    error, job = None, None
    try:
        if not progress_file.is_file():
            raise InputError(f"progress file {str(progress_file)!r} does not exist")
        job = read_job_record(progress_file.parent)
        job.output = str(progress_file.resolve().parent)  # wherever the directory is now
    except Exception as e:
        error = e
    collective_verdict(error, "while reading the progress file's job")
    return run_fit(job, resume_from=progress_file, maxiter=maxiter, command=command)
