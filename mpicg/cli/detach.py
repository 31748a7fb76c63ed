"""``mpicg fit JOB.toml --detach``, ``mpicg attach OUTPUT_DIR`` and ``mpicg stop OUTPUT_DIR``.

``--detach`` checks the job as ``mpicg fit`` would (model, data, priors, the output
directory and its lock: an invalid job is exit code 2 at once), then starts a small
supervisor (:mod:`.supervise`) in its own session (so closing the terminal does not stop
it), which runs ``mpirun -n N python -m mpicg fit JOB.toml``, with the output going to
``OUTPUT_DIR/fit.log``, and records the fit's exit code when it ends. The printed id is
the supervisor's: ``kill`` of it (SIGTERM, SIGINT, SIGUSR1, SIGHUP) is passed on to
``mpirun``, which passes it to every rank, so the fit stops cleanly with a progress file
(exit 75). ``mpicg stop`` does the same and waits for the fit to end.

``attach`` shows the log, follows it while the fit runs, and prints the solution once the
fit has ended with one (exit code 0 or 4). Each detached run has an id; attach reads only
the exit status of the run it attached to, and never shows a solution that run did not
write. Ctrl-C leaves the fit running.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from ..errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_NOT_CONVERGED, InputError
from ..fitting import load_solution
from ..fitting._files import write_atomically
from ..parallel import find_mpirun
from .fit import check_job
from .jobfile import load_job
from .output import PROGRESS, SOLUTION, OutputLock, holder, is_locked, prepare_directory

__all__ = ["DETACHED", "EXIT_STATUS", "LOG", "attach", "detach", "stop"]

DETACHED, LOG, EXIT_STATUS = "detached.json", "fit.log", "exit-status"
_POLL = 0.5  # seconds between looks at a running fit


def _read_json(path: Path, what: str) -> dict:
    """A small JSON record of ours; InputError (one line) when it is missing or damaged."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{str(path)!r} does not exist") from None
    except (OSError, ValueError) as e:
        raise InputError(f"{what} {str(path)!r} is damaged ({e}); remove it and start the "
                         "fit again") from None
    if not isinstance(data, dict):
        raise InputError(f"{what} {str(path)!r} is damaged (not a record); remove it and "
                         "start the fit again")
    return data


def detach(job_file, ranks: int | None = None, resume_if_stopped: bool = False,
           say=print) -> int:
    """Check a job, start its fit in the background; return 0 once it is started.

    Parameters
    ----------
    job_file : str or path
        The job file.
    ranks : int, optional
        MPI ranks (default: every core; 1 runs without mpirun).
    resume_if_stopped : bool
        Pass ``--resume-if-stopped`` on.
    say : callable
        Where to report.

    Raises
    ------
    InputError
        An invalid job (its file, model, data, priors, steps), an output directory that
        cannot be written or is in use, no ``mpirun`` for several ranks.
    """
    job = load_job(job_file)
    if job.phoebe is None:  # a bundle is read by the fit itself (PHOEBE takes seconds)
        check_job(job)  # everything the fit would reject before its first evaluation
    out = prepare_directory(job.output)
    with OutputLock(out, "mpicg fit --detach (checking the job)"):
        pass  # in use by another fit: InputError naming it (the fit takes the lock itself)
    record = out / DETACHED
    if record.exists():
        previous = _read_json(record, "the detached-fit record")
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
    run = uuid.uuid4().hex
    status = (out / EXIT_STATUS).resolve()
    command = [sys.executable, "-m", "mpicg.cli.supervise", run, str(status), *fit]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
               PYTHONUNBUFFERED="1")
    with (out / LOG).open("w") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   env=env, cwd=Path(job.path).resolve().parent)
    write_atomically(record, json.dumps({"pid": process.pid, "run": run,
                                         "command": shlex.join(fit), "ranks": ranks,
                                         "started": time.time()}, indent=1) + "\n")
    say(f"started the fit of {job.path} in the background on {ranks} rank(s) (id "
        f"{process.pid}); its output goes to {out / LOG}")
    say(f"follow it with: mpicg attach {out}; stop it with: mpicg stop {out} (or kill "
        f"{process.pid})")
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
    except ChildProcessError:  # not our child: it exists, unless it is a zombie
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        return stat.rsplit(")", 1)[-1].split()[0] != "Z"
    return done == 0


def _rank0_alive(out: Path) -> bool:
    """Whether a fit's rank 0 on this host holds the output directory's lock."""
    if not is_locked(out):
        return False
    lock = holder(out) or {}
    return lock.get("host") == socket.gethostname() and _alive(lock.get("pid"))


def _exit_code(out: Path, run: str | None) -> int | None:
    """The recorded exit code of detached run ``run`` (None: not recorded, or another's)."""
    path = out / EXIT_STATUS
    if not path.exists():
        return None
    status = _read_json(path, "the exit-status record")
    if status.get("run") != run or not isinstance(status.get("code"), int):
        return None
    return status["code"]


def attach(output_dir, follow: bool = True, say=print, poll: float = _POLL) -> int:
    """Show a detached fit's output; follow it until it ends; then show its solution.

    Returns
    -------
    int
        The fit's exit code once it has ended (0 while it is still running and ``follow``
        is off, or when you leave with Ctrl-C).
    """
    out = Path(output_dir)
    if not out.is_dir():
        raise InputError(f"{str(out)!r} is not a directory (the output directory of a "
                         "detached fit)")
    record = out / DETACHED
    if not record.is_file():
        raise InputError(f"{str(out)!r} holds no detached fit (no {DETACHED}); start one "
                         "with: mpicg fit JOB.toml --detach")
    info = _read_json(record, "the detached-fit record")
    if not isinstance(info.get("pid"), int):
        raise InputError(f"the detached-fit record {str(record)!r} is damaged (no pid)")
    say(f"attached to {info.get('command', '?')} (id {info['pid']}, "
        f"{info.get('ranks', '?')} rank(s))")
    position = 0
    log = out / LOG

    def show_new() -> None:
        nonlocal position
        if log.exists():
            with log.open(errors="replace") as f:
                f.seek(position)
                text = f.read()
                position = f.tell()
            if text:
                say(text.rstrip("\n"))

    try:
        while True:
            # Ended once its exit code is recorded (its process may linger a moment); a
            # fit whose supervisor was killed may still run: its rank 0 holds the lock.
            running = ((_alive(info["pid"]) or _rank0_alive(out))
                       and _exit_code(out, info.get("run")) is None)
            show_new()
            if not running or not follow:
                break
            time.sleep(poll)
    except KeyboardInterrupt:
        say(f"\ndetached; the fit goes on (mpicg attach {out} to follow it again)")
        return 0
    if running:
        say(f"the fit is still running (id {info['pid']})")
        return 0
    code = _exit_code(out, info.get("run"))
    if code in (0, EXIT_NOT_CONVERGED) and (out / SOLUTION).exists():
        # Only a run that ended with 0 or 4 wrote the solution there.
        say("\n" + load_solution(out / SOLUTION).summary())
    elif code == EXIT_INTERRUPTED:
        say(f"the fit was stopped by a signal; continue it with: mpicg resume "
            f"{out / PROGRESS}")
    elif code is None:
        say("the fit ended without recording its exit code (its supervisor was killed?); "
            "no solution of it is shown")
    say(f"the fit has ended (exit code {code if code is not None else 'unknown'})")
    return code if code is not None else EXIT_FAILURE


def stop(output_dir, timeout: float = 600.0, say=print) -> int:
    """Stop the fit running in ``output_dir`` cleanly: a progress file, every rank exits 75.

    A detached fit's supervisor is sent SIGTERM (it passes it to ``mpirun``, which passes
    it to every rank); a fit started otherwise on this host gets SIGTERM at its rank 0
    (named by the directory's lock), which tells the others. Waits for the fit to end.

    Returns
    -------
    int
        0 once the fit has stopped (75 from the fit) or had already ended; 1 when it did not
        stop within ``timeout`` seconds.

    Raises
    ------
    InputError
        No running fit in ``output_dir``, or one on another host.
    """
    out = Path(output_dir)
    if not out.is_dir():
        raise InputError(f"{str(out)!r} is not a directory (a fit's output directory)")
    info, pid = None, None
    if (out / DETACHED).exists():
        info = _read_json(out / DETACHED, "the detached-fit record")
        if _alive(info.get("pid")):
            pid = info["pid"]
    if pid is None:
        if not is_locked(out):
            raise InputError(f"no fit is running in {str(out)!r}")
        lock = holder(out) or {}
        if lock.get("host") != socket.gethostname() or not _alive(lock.get("pid")):
            raise InputError(f"the fit in {str(out)!r} runs on host {lock.get('host', '?')} "
                             f"(pid {lock.get('pid', '?')}): stop it there, or with your "
                             "batch system (scancel --signal=USR1 --batch JOBID)")
        pid = lock["pid"]
    say(f"stopping the fit in {out} (sending SIGTERM to {pid}); it writes its progress "
        "file at the end of its current iteration")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) or is_locked(out):
        if time.monotonic() > deadline:
            say(f"the fit did not stop within {timeout:g} s")
            return EXIT_FAILURE
        time.sleep(_POLL)
    code = _exit_code(out, info.get("run")) if info is not None else None
    if code == EXIT_INTERRUPTED or (code is None and (out / PROGRESS).exists()):
        say(f"stopped; continue with: mpicg resume {out / PROGRESS}")
    else:
        say(f"the fit ended (exit code {code if code is not None else 'unknown'})")
    return 0


