"""``mpicg phoebe BUNDLE --solver LABEL``: a saved PHOEBE bundle's ``optimizer.cg``, with mpicg.

Run it under ``mpirun -n N``: every rank opens the bundle and fits what its solver says
(:func:`mpicg.fitting.phoebe_solver.run_phoebe_solver`). The same fit as a job file::

    [phoebe]
    bundle = "binary.phoebe"      # saved with b.save(...)
    solver = "cg_solver"          # default: the bundle's only optimizer.cg solver
    # dataset = "lc01"            # default: the only enabled lc dataset with observations
    # solution = "latest"         # the label of the PHOEBE solution written
    # save_bundle = "fitted.phoebe"   # also save the bundle with the solution adopted

    [steps]                       # mpicg's finite-difference steps, by twig
    "incl@binary" = 0.01
    "requiv@secondary" = { size = 1e-3, kind = "relative" }

    [fit]                         # mpicg's own options; gtol, maxiter, norm override the
    fd_scheme = "central"         # solver's (c1, c2, block_size too)

    [output]
    directory = "fit-out"         # default: JOBNAME-out next to the job file
    # progress_every_niters = 1   # default: the solver's progress_every_niters

``mpicg fit JOB.toml`` runs it (and ``--detach``, ``attach``, ``resume``, ``submit`` work as
for any job). The output directory holds mpicg's files (``solution.json``,
``progress.json``, ``history.csv``, ``job.json``) and, for PHOEBE, ``solution.ps`` (a PHOEBE
solution: ``b.import_solution('OUT/solution.ps')`` then ``b.adopt_solution()``),
``solution.ps.progress`` while it runs (every ``progress_every_niters`` iterations, as
PHOEBE's own), and with ``save_bundle`` the bundle with the solution imported and adopted.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import InputError
from ..fitting import Solution, Step, WithValues
from ..fitting.phoebe_solver import (
    DEFAULT_SOLUTION_LABEL,
    PhoebeFit,
    phoebe_solution,
    read_phoebe_solver,
    run_phoebe_solver,
)
from ..models.segments import Segments
from ..parallel import collective_verdict, is_root
from .jobfile import Job
from .jobtables import read_fit_options, read_output, read_scales, read_steps
from .observations import Observations

__all__ = [
    "PHOEBE_FIT_OPTIONS",
    "PHOEBE_PROGRESS",
    "PHOEBE_SOLUTION",
    "describe",
    "fit_phoebe_job",
    "fitted_and_start",
    "load_phoebe_job",
    "phoebe_command",
    "phoebe_job",
    "phoebe_observations",
    "read_phoebe_job",
    "write_job_file",
    "write_phoebe_outputs",
]

PHOEBE_SOLUTION = "solution.ps"
PHOEBE_PROGRESS = PHOEBE_SOLUTION + ".progress"  # PHOEBE's own progress file name
#: ``[fit]`` options a PHOEBE job may give: mpicg's own, and overrides of the solver's.
PHOEBE_FIT_OPTIONS = ("gtol", "maxiter", "norm", "c1", "c2", "fd_scheme", "scale",
                      "uncertainties", "block_size")
_IN_THE_BUNDLE = {"model": "the bundle is the model", "data": "the bundle's dataset holds "
                  "the observations", "parameters": "the bundle holds the values",
                  "priors": "the solver's priors are the bundle's distributions"}


def _string(table: dict, key: str, error, required: bool = False) -> str | None:
    value = table.get(key)
    if value is None:
        if required:
            raise error("is missing (required)", "phoebe", key)
        return None
    if not isinstance(value, str) or not value:
        raise error(f"must be a non-empty string; got {value!r:.60}", "phoebe", key)
    return value


def load_phoebe_job(path: Path, doc: dict, lines: dict, error) -> Job:
    """A job file with a ``[phoebe]`` table (see the module doc); errors name file, line, key."""
    for table, why in _IN_THE_BUNDLE.items():
        if table in doc:
            raise error(f"not allowed with [phoebe]: {why}", table)
    here = path.resolve().parent
    table = doc["phoebe"]
    bundle = here / _string(table, "bundle", error, required=True)
    save = _string(table, "save_bundle", error)
    fit = doc.get("fit", {})
    if "parameters" in fit:
        raise error("not allowed with [phoebe]: the solver's fit_parameters say it", "fit",
                    "parameters")
    unknown = [k for k in fit if k not in PHOEBE_FIT_OPTIONS]
    if unknown:
        raise error(f"set it in the bundle's solver; with [phoebe], [fit] takes "
                    f"{list(PHOEBE_FIT_OPTIONS)}", "fit", unknown[0])
    directory, every = read_output(doc.get("output", {}), error, f"{path.stem}-out", None)
    return Job(path=str(path), model="phoebe", data_files=[str(bundle)], fit_parameters=[],
               output=str(here / directory), search_path=str(here),
               options=read_fit_options(fit, error),
               steps=read_steps(doc.get("steps", {}), error),
               scales=read_scales(doc.get("scales", {}), error),
               progress_every_niters=every, lines=lines,
               phoebe={"bundle": str(bundle), "solver": _string(table, "solver", error),
                       "dataset": _string(table, "dataset", error),
                       "solution": _string(table, "solution", error) or DEFAULT_SOLUTION_LABEL,
                       "save_bundle": None if save is None else str(here / save)})


def phoebe_job(bundle, solver: str | None = None, *, output=None, dataset: str | None = None,
               solution: str = DEFAULT_SOLUTION_LABEL, save_bundle=None,
               steps: dict | None = None, scales: dict | None = None,
               options: dict | None = None,
               progress_every_niters: int | None = None) -> Job:
    """The job ``mpicg phoebe`` runs (paths relative to the working directory).

    Parameters
    ----------
    bundle : path
        The saved bundle.
    solver, dataset, solution, save_bundle
        As the ``[phoebe]`` table's keys.
    output : path, optional
        The output directory (default: ``BUNDLE-SOLVER-out`` beside the bundle).
    steps : dict, optional
        Twig -> ``{"size": float, "kind": "absolute"|"relative"}``.
    scales : dict, optional
        Twig -> ``"auto"``, ``"none"`` or a number (``[scales]``).
    options : dict, optional
        ``[fit]`` options (:data:`PHOEBE_FIT_OPTIONS`).
    progress_every_niters : int, optional
        Override the solver's.
    """
    bundle = Path(bundle).resolve()
    if output is None:
        output = bundle.parent / f"{bundle.stem}-{solver or 'cg'}-out"
    return Job(path=str(bundle), model="phoebe", data_files=[str(bundle)], fit_parameters=[],
               output=str(Path(output).resolve()), search_path=str(bundle.parent),
               options=dict(options or {}), steps=dict(steps or {}),
               scales=dict(scales or {}), progress_every_niters=progress_every_niters,
               phoebe={"bundle": str(bundle), "solver": solver, "dataset": dataset,
                       "solution": solution,
                       "save_bundle": None if save_bundle is None
                       else str(Path(save_bundle).resolve())})


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value)
                                                         else ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string (JSON's escapes are TOML's)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def write_job_file(job: Job, path) -> Path:
    """Write a PHOEBE job as a job file (what ``mpicg phoebe --detach`` starts)."""
    lines = ["[phoebe]"]
    lines += [f"{k} = {_toml(v)}" for k, v in job.phoebe.items()
              if v is not None and k in ("bundle", "solver", "dataset", "solution",
                                         "save_bundle")]
    for table, entries in (("steps", job.steps), ("scales", job.scales)):
        if entries:
            lines += ["", f"[{table}]"] + [f"{json.dumps(k)} = {_toml(v)}"
                                           for k, v in entries.items()]
    if job.options:
        lines += ["", "[fit]"] + [f"{k} = {_toml(v)}" for k, v in job.options.items()]
    lines += ["", "[output]", f"directory = {_toml(job.output)}"]
    if job.progress_every_niters is not None:
        lines.append(f"progress_every_niters = {job.progress_every_niters}")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


def read_phoebe_job(job: Job) -> PhoebeFit:
    """Open the job's bundle and read its solver (every rank; errors raised on rank 0)."""
    steps = {name: Step(s["size"], s["kind"]) for name, s in job.steps.items()}
    scale = job.options.get("scale", "auto")
    prepared = read_phoebe_solver(job.phoebe["bundle"], job.phoebe["solver"],
                                  dataset=job.phoebe["dataset"], steps=steps,
                                  scale=dict(job.scales) if job.scales else scale)
    if job.scales:  # per parameter (by any twig); the others take [fit] scale
        prepared.scale = {n: prepared.scale.get(n, scale)
                          for n in prepared.bundle.fit_parameters}
    return prepared


class _AgainstTime(WithValues):
    """The model with no ephemeris: reports plot it against time, not folded.

    A fold draws the model on thousands of phases, each a PHOEBE time (seconds to
    minutes), some before the model's reference time; against time it is computed at the
    observations only.
    """

    def ephemeris(self, values: dict[str, float]) -> None:
        """None: do not fold."""
        return None


def phoebe_observations(job: Job) -> tuple[Observations, WithValues]:
    """A PHOEBE job's observations and model, as ``mpicg report`` reads a job's."""
    prepared = read_phoebe_job(job)
    b = prepared.bundle
    observations = Observations(times=b.times, flux=b.flux, sigma=b.sigma,
                                segments=Segments(), exposure_times=(0.0,),
                                time_label="time", descriptions=[describe(job, prepared)])
    return observations, WithValues(_AgainstTime(prepared.model))


def describe(job: Job, prepared: PhoebeFit) -> str:
    """One line saying what the fit is (the command prints it on rank 0)."""
    b = prepared.bundle
    return (f"PHOEBE bundle {b.bundle_file}, solver {b.solver!r} (compute {b.compute!r}, "
            f"dataset {b.dataset!r}, {b.times.size} observations): fitting "
            f"{', '.join(b.fit_parameters)}")


def fitted_and_start(prepared: PhoebeFit) -> tuple[list[str], list[float]]:
    """The fitted parameters' names and start values (for the history file)."""
    b, defaults = prepared.bundle, prepared.model.defaults
    return list(b.fit_parameters), [b.initial_values.get(n, defaults[n])
                                     for n in b.fit_parameters]


def fit_phoebe_job(job: Job, prepared: PhoebeFit, progress_file, resume_from,
                   maxiter: int | None = None, callback=None) -> Solution:
    """Run the job's fit (collective), writing PHOEBE's progress file beside mpicg's.

    ``maxiter``, when given, replaces the job's (``mpicg resume --maxiter``).
    """
    if is_root():  # a PHOEBE solution there must be this run's
        (Path(job.output) / PHOEBE_SOLUTION).unlink(missing_ok=True)
    options = {k: v for k, v in job.options.items() if k != "scale"}  # in `prepared`
    if maxiter is not None:
        options["maxiter"] = maxiter
    return run_phoebe_solver(
        prepared, **options, progress_every_niters=job.progress_every_niters,
        progress_file=progress_file, resume=resume_from,
        phoebe_progress_file=Path(job.output) / PHOEBE_PROGRESS,
        solution_label=job.phoebe["solution"], callback=callback)


def _parse_step(text: str, parser) -> tuple[str, dict]:
    twig, sep, size = text.partition("=")
    size, _, kind = size.partition(":")
    try:
        value = float(size)
    except ValueError:
        value = math.nan
    if not sep or not twig or kind not in ("", "relative", "absolute") \
            or not (math.isfinite(value) and value > 0):
        parser.error(f"--step must be TWIG=SIZE or TWIG=SIZE:relative with SIZE > 0; "
                     f"got {text!r}")
    return twig, {"size": value, "kind": kind or "absolute"}


def _scale(text: str | None, parser):
    if text is None or text in ("auto", "none"):
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        parser.error(f"--scale must be auto, none or a number > 0; got {text!r}")
    return value


def phoebe_command(args, parser):
    """``mpicg phoebe``: run a bundle's solver (the solution), or start it (``--detach``: 0)."""
    steps = dict(_parse_step(text, parser) for text in args.step)
    options = {k: v for k, v in (("fd_scheme", args.fd_scheme), ("gtol", args.gtol),
                                 ("maxiter", args.maxiter), ("scale", _scale(args.scale, parser)),
                                 ("uncertainties", args.uncertainties)) if v is not None}
    if args.progress_every_niters is not None and args.progress_every_niters < 0:
        parser.error(f"--progress-every-niters must be >= 0; got {args.progress_every_niters}")
    error, job = None, None
    try:
        job = phoebe_job(args.bundle, args.solver, output=args.output, dataset=args.dataset,
                         solution=args.solution, save_bundle=args.save_bundle, steps=steps,
                         options=options, progress_every_niters=args.progress_every_niters)
    except Exception as e:
        error = e
    collective_verdict(error, "while reading the command's options")
    if args.detach:
        from .detach import detach

        if not Path(job.phoebe["bundle"]).is_file():
            raise InputError(f"PHOEBE bundle {job.phoebe['bundle']!r} does not exist")
        Path(job.output).mkdir(parents=True, exist_ok=True)
        return detach(write_job_file(job, Path(job.output) / "phoebe-job.toml"), args.ranks)
    from .fit import run_fit

    return run_fit(job)


def write_phoebe_outputs(job: Job, solution: Solution, say=print) -> list[Path]:
    """Rank 0: write the PHOEBE solution, and the bundle with it adopted if the job asks."""
    from ..models.phoebe_solution import adopt_into_bundle, write_phoebe_solution

    if not is_root():
        return []
    out = Path(job.output)
    path = write_phoebe_solution(out / PHOEBE_SOLUTION, phoebe_solution(solution))
    (out / PHOEBE_PROGRESS).unlink(missing_ok=True)  # the final solution replaces it
    written = [path]
    say(f"wrote {path}: in PHOEBE, b.import_solution({str(path)!r}) then "
        f"b.adopt_solution({job.phoebe['solution']!r})")
    save = job.phoebe.get("save_bundle")
    if save:
        try:
            adopted = adopt_into_bundle(job.phoebe["bundle"], path, save)
        except InputError:
            raise
        except Exception as e:  # PHOEBE's own refusal (e.g. a constraint in the way)
            raise InputError(f"PHOEBE could not adopt {path} into {job.phoebe['bundle']}: "
                             f"{type(e).__name__}: {e}") from None
        written.append(Path(save))
        say(f"wrote {save}: the bundle with the solution adopted ("
            + ", ".join(f"{t} = {v:.10g}" for t, v in adopted.items()) + ")")
    return written
