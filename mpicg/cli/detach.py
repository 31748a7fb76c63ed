"""``mpicg fit JOB.toml --detach`` and ``mpicg attach OUTPUT_DIR``, as PHOEBE users know them.

``--detach`` checks the job file, starts ``mpirun -n N python -m mpicg fit JOB.toml`` in its
own session (so closing the terminal does not stop it), with its output going to
``OUTPUT_DIR/fit.log``, and returns. ``attach`` shows that log, follows it while the fit
runs, and prints the solution once it is done; Ctrl-C leaves the fit running.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from ..errors import InputError
from ..fitting import load_solution
from ..parallel import EXIT_INTERRUPTED, find_mpirun
from .fit import PROGRESS, SOLUTION
from .jobfile import load_job

__all__ = ["DETACHED", "EXIT_STATUS", "LOG", "attach", "detach"]

DETACHED, LOG, EXIT_STATUS = "detached.json", "fit.log", "exit-status"
_POLL = 0.5  # seconds between looks at a running fit


def detach(job_file, ranks: int | None = None, resume_if_stopped: bool = False,
           say=print) -> int:
    """Start a job's fit in the background; return 0 once it is started.

    Parameters
    ----------
    job_file : str or path
        The job file (checked here, so mistakes show at once).
    ranks : int, optional
        MPI ranks (default: every core; 1 runs without mpirun).
    resume_if_stopped : bool
        Pass ``--resume-if-stopped`` on.
    say : callable
        Where to report.
    """
    job = load_job(job_file)
    out = Path(job.output)
    out.mkdir(parents=True, exist_ok=True)
    record = out / DETACHED
    if record.exists():
        previous = json.loads(record.read_text())
        if _alive(previous.get("pid")):
            raise InputError(f"a detached fit is still running in {out} (pid "
                             f"{previous['pid']}): mpicg attach {out}")
    ranks = ranks or os.cpu_count() or 1
    fit = [sys.executable, "-m", "mpicg", "fit", str(Path(job.path).resolve())]
    if resume_if_stopped:
        fit.append("--resume-if-stopped")
    if ranks > 1:
        mpirun = find_mpirun()
        if mpirun is None:
            raise InputError("--detach with more than one rank needs mpirun (pip install "
                             "mpich, or your cluster's MPI); none was found")
        fit = [mpirun, "-n", str(ranks), *fit]
    (out / EXIT_STATUS).unlink(missing_ok=True)
    # A shell waits for the fit and records its exit status, which attach reports.
    command = ["/bin/sh", "-c", 'status=0; "$@" || status=$?; echo "$status" > "$0"',
               str((out / EXIT_STATUS).resolve()), *fit]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
               PYTHONUNBUFFERED="1")
    with (out / LOG).open("w") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   env=env, cwd=Path(job.path).resolve().parent)
    record.write_text(json.dumps({"pid": process.pid, "command": shlex.join(fit),
                                  "ranks": ranks, "started": time.time()}, indent=1) + "\n")
    say(f"started the fit of {job.path} in the background on {ranks} rank(s) (pid "
        f"{process.pid}); its output goes to {out / LOG}")
    say(f"follow it with: mpicg attach {out}")
    return 0


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A finished child of this process is a zombie until reaped (tests start and attach
    # from one process); reap it without blocking.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True  # not our child: it exists
    return done == 0


def attach(output_dir, follow: bool = True, say=print, poll: float = _POLL) -> int:
    """Show a detached fit's output; follow it until it ends; then show its solution.

    Returns
    -------
    int
        The fit's exit code once it has ended (0 while it is still running and ``follow``
        is off, or when you leave with Ctrl-C).
    """
    out = Path(output_dir)
    record = out / DETACHED
    if not record.is_file():
        raise InputError(f"{str(out)!r} holds no detached fit (no {DETACHED}); start one "
                         "with: mpicg fit JOB.toml --detach")
    info = json.loads(record.read_text())
    say(f"attached to {info['command']} (pid {info['pid']}, {info['ranks']} rank(s))")
    position = 0
    log = out / LOG

    def show_new() -> None:
        nonlocal position
        if log.exists():
            with log.open() as f:
                f.seek(position)
                text = f.read()
                position = f.tell()
            if text:
                say(text.rstrip("\n"))

    try:
        while True:
            running = _alive(info["pid"])
            show_new()
            if not running or not follow:
                break
            time.sleep(poll)
    except KeyboardInterrupt:
        say(f"\ndetached; the fit goes on (mpicg attach {out} to follow it again)")
        return 0
    if running:
        say(f"the fit is still running (pid {info['pid']})")
        return 0
    status_file = out / EXIT_STATUS
    code = int(status_file.read_text()) if status_file.exists() else None
    if (out / SOLUTION).exists():
        say("\n" + load_solution(out / SOLUTION).summary())
    elif code == EXIT_INTERRUPTED:
        say(f"the fit was stopped by a signal; continue it with: mpicg resume "
            f"{out / PROGRESS}")
    say(f"the fit has ended (exit code {code if code is not None else 'unknown'})")
    return code if code is not None else 1
