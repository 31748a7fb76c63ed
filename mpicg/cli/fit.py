"""``mpicg fit JOB.toml`` and ``mpicg resume PROGRESS_FILE``: a job file's fit, collectively.

Every rank reads the job file and its data and calls :func:`mpicg.optimizer_cg`; rank 0
writes the output directory:

``job.json``
    the job with its paths resolved (what ``resume`` and ``report`` read);
``progress.json``
    the progress file (every ``progress_every_niters`` iterations, and on a signal);
``history.csv``
    one row per iteration: -ln p, gradient norm, step, model evaluations, seconds per round;
``solution.json``
    the :class:`~mpicg.Solution`, once the fit ends.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fitting import (
    ParameterizedModel,
    Solution,
    Step,
    WithValues,
    load_checkpoint,
    optimizer_cg,
)
from ..fitting._files import write_atomically
from ..fitting.priors import distribution_from_dict
from ..models import Baseline, Integrated
from ..optimize import LOG
from ..parallel import is_root, launch_size, raise_on_root
from .history import HistoryFile, truncate_history
from .jobfile import Job, check_names, load_job, make_model
from .observations import LONG_CADENCE, Observations, read_observations

__all__ = ["HISTORY", "JOB", "PROGRESS", "SOLUTION", "JobInputs", "fit_command",
           "observation_model", "read_job_inputs", "read_job_record", "resume_command",
           "run_fit"]

JOB, PROGRESS, HISTORY, SOLUTION = "job.json", "progress.json", "history.csv", "solution.json"


def _say(*args) -> None:
    if is_root():
        print(*args, flush=True)


def read_job_record(directory: Path) -> Job:
    """The job an output directory was written for (its ``job.json``)."""
    path = Path(directory) / JOB
    try:
        return Job.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise InputError(f"{str(path)!r} does not exist: {str(directory)!r} is not the "
                         "output directory of an mpicg job") from None
    except (ValueError, TypeError) as e:
        raise InputError(f"{str(path)!r} is not an mpicg job record: {e}") from None


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

    ``model`` is the job's model if already built (:func:`~.jobfile.make_model`).

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


def run_fit(job: Job, *, resume_from: Path | None = None) -> Solution:
    """Run a job's fit on every rank of the launch; rank 0 writes the output directory.

    Parameters
    ----------
    job : Job
        The job (see :mod:`.jobfile`).
    resume_from : path, optional
        A progress file to continue from (exactly, with any number of ranks).

    Returns
    -------
    Solution
        The same on every rank.
    """
    if job.phoebe is not None:
        from . import phoebe

        inputs = phoebe.read_phoebe_job(job)  # raises on rank 0 only
        names, start = phoebe.fitted_and_start(inputs)
    else:
        try:
            inputs = read_job_inputs(job)
        except InputError as e:
            raise_on_root(e)
        names = job.fit_parameters
        start = [inputs.model.defaults[n] for n in names]
    out = Path(job.output)
    progress_file = Path(resume_from) if resume_from is not None else out / PROGRESS
    root = is_root()
    handler = None
    if root:
        out.mkdir(parents=True, exist_ok=True)
        (out / SOLUTION).unlink(missing_ok=True)  # a solution there is this run's
        write_atomically(out / JOB, json.dumps(job.to_dict(), indent=1) + "\n")
        if resume_from is None:
            (out / HISTORY).unlink(missing_ok=True)
        else:  # keep the history of the iterations the progress file has
            # A bad progress file: optimizer_cg reports it, and every rank exits.
            with contextlib.suppress(InputError):
                truncate_history(out / HISTORY, load_checkpoint(progress_file).state.k)
        handler = HistoryFile(out / HISTORY, names, start)
        LOG.addHandler(handler)
        if LOG.getEffectiveLevel() > logging.INFO:
            LOG.setLevel(logging.INFO)
    what = f"resuming from {progress_file}" if resume_from is not None else "starting"
    if job.phoebe is not None:
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
        if job.phoebe is not None:
            solution = phoebe.fit_phoebe_job(job, inputs, progress_file, resume_from,
                                             callback=callback)
        else:
            options = dict(job.options)
            if job.scales:  # per parameter; the others take [fit] scale
                default = options.get("scale", "auto")
                options["scale"] = {n: job.scales.get(n, default)
                                    for n in job.fit_parameters}
            solution = optimizer_cg(
                inputs.model, inputs.times, inputs.flux, inputs.sigma,
                fit_parameters=job.fit_parameters, priors=inputs.priors,
                steps=inputs.steps, **options,
                progress_every_niters=job.progress_every_niters,
                progress_file=progress_file, resume=resume_from, callback=callback)
    finally:
        if handler is not None:
            LOG.removeHandler(handler)
    if root:
        solution.save(out / SOLUTION)
        _say(solution.summary())
        _say(f"wrote {out / SOLUTION} ({time.perf_counter() - started:.1f} s); "
             f"plots: mpicg report {out / SOLUTION}")
    if job.phoebe is not None:
        phoebe.write_phoebe_outputs(job, solution, say=_say)
    return solution


def fit_command(job_file, resume_if_stopped: bool = False) -> Solution:
    """``mpicg fit``: read the job file and run it (resuming an interrupted run if asked)."""
    try:
        job = load_job(job_file)
    except InputError as e:
        raise_on_root(e)
    progress = Path(job.output) / PROGRESS
    resume = None
    if resume_if_stopped and progress.exists() and not (Path(job.output) / SOLUTION).exists():
        resume = progress
    return run_fit(job, resume_from=resume)


def resume_command(progress_file) -> Solution:
    """``mpicg resume``: continue the job whose output directory holds ``progress_file``."""
    progress_file = Path(progress_file)
    try:
        if not progress_file.is_file():
            raise InputError(f"progress file {str(progress_file)!r} does not exist")
        job = read_job_record(progress_file.parent)
        job.output = str(progress_file.resolve().parent)  # wherever the directory is now
    except InputError as e:
        raise_on_root(e)
    return run_fit(job, resume_from=progress_file)
