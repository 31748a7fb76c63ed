"""The output directory of a fit: checked, locked, and written so that nothing is lost.

The last finished fit's files, which ``mpicg report`` reads together:

``job.json``
    the job, paths resolved;
``history.csv``
    one row per iteration;
``solution.json``
    the :class:`~mpicg.Solution`.

The running (or stopped) fit's files:

``progress.json``
    its progress file (every ``progress_every_niters`` iterations, and on a signal);
``job.partial.json``, ``history.partial.csv``
    its job and history, until its solution exists.

Nothing is lost: a fit touches nothing before its start check has passed; it writes its job
and history under ``.partial`` names, and only once its solution is complete are the three
moved into place, the solution last. A fit that fails or is stopped leaves the previous
fit's files as they were. The directory is locked (``.mpicg.lock``, an advisory ``flock``
the system drops when the process dies) while a fit runs in it: a second fit on it is bad
input that names the first.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from ..errors import InputError
from ..fitting._files import write_atomically

__all__ = ["HISTORY", "JOB", "LOCK", "PARTIAL_HISTORY", "PARTIAL_JOB", "PROGRESS", "SOLUTION",
           "OutputLock", "commit", "holder", "prepare_directory", "stopped_fit"]

JOB, PROGRESS, HISTORY, SOLUTION = "job.json", "progress.json", "history.csv", "solution.json"
PARTIAL_JOB, PARTIAL_HISTORY = "job.partial.json", "history.partial.csv"
LOCK = ".mpicg.lock"


def prepare_directory(path) -> Path:
    """The output directory, created if needed; InputError unless it can be written.

    Raises
    ------
    InputError
        A path that is a file, a parent that cannot be created, or a directory this user
        cannot write (read-only, another owner's): one line naming the directory.
    """
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"output directory {str(out)!r} is a file, not a directory") from None
    except OSError as e:
        raise InputError(f"output directory {str(out)!r} cannot be created: "
                         f"{e.strerror or e}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise InputError(f"output directory {str(out)!r} is not writable (read-only, or "
                         "another user's): choose another [output] directory")
    return out


def holder(directory) -> dict | None:
    """What the lock file of ``directory`` says about the fit holding it (or None)."""
    try:
        info = json.loads((Path(directory) / LOCK).read_text() or "null")
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _describe(info: dict | None) -> str:
    if not info:
        return "another fit"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
    return (f"the fit `{info.get('command', '?')}` (pid {info.get('pid', '?')} on host "
            f"{info.get('host', '?')}, started {started})")


class OutputLock:
    """The lock of an output directory, held by the fit that writes it (rank 0).

    Parameters
    ----------
    directory : path
        The output directory (it must exist).
    command : str
        What holds it, for the message a second fit gets.

    Raises
    ------
    InputError
        When another fit holds it: naming that fit (command, pid, host, start time).
    """

    def __init__(self, directory, command: str):
        self.path = Path(directory) / LOCK
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise InputError(f"output directory {str(self.path.parent)!r} cannot be locked: "
                             f"{e.strerror or e}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self.fd)
            raise InputError(f"output directory {str(self.path.parent)!r} is in use by "
                             f"{_describe(holder(self.path.parent))}: wait for it to end "
                             "(or stop it: mpicg stop DIR), or give this fit another "
                             "[output] directory") from None
        info = {"command": command, "pid": os.getpid(), "host": socket.gethostname(),
                "started": time.time()}
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, json.dumps(info).encode(), 0)

    def release(self) -> None:
        """Give the directory free (the system does it too when the process ends)."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            os.close(self.fd)  # closing drops the flock
            self.fd = None

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def is_locked(directory) -> bool:
    """True while a fit holds the directory's lock."""
    path = Path(directory) / LOCK
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def stopped_fit(directory) -> bool:
    """True when a fit began here and was stopped before its solution (it can resume).

    Its staged job exists, and its progress file was written after the fit began (a
    progress file older than that is an earlier fit's).
    """
    out = Path(directory)
    try:
        began = (out / PARTIAL_JOB).stat().st_mtime_ns
        written = (out / PROGRESS).stat().st_mtime_ns
    except OSError:
        return False
    return written >= began


def begin(directory, job_record: dict, history_rows: list[str] | None) -> None:
    """Stage a fit that has passed its start check: its job, and its history so far.

    Parameters
    ----------
    directory : path
        The output directory.
    job_record : dict
        The job (written as ``job.partial.json`` unless a stopped fit's is there already).
    history_rows : list of str or None
        The history to continue from (a resumed fit's rows up to its progress file's
        iteration, header included), or None for a fresh history.
    """
    out = Path(directory)
    if not (out / PARTIAL_JOB).exists() or history_rows is None:
        write_atomically(out / PARTIAL_JOB, json.dumps(job_record, indent=1) + "\n")
    text = "\n".join(history_rows) + "\n" if history_rows else ""
    write_atomically(out / PARTIAL_HISTORY, text)


def commit(directory, solution_text: str) -> Path:
    """Put a finished fit's solution, history and job in place of the previous fit's.

    The solution is written in full first (as a staged file), then the three are renamed
    into place, the solution last: at no moment is a previous solution gone before the new
    one exists.
    """
    out = Path(directory)
    staged = write_atomically(out / "solution.partial.json", solution_text)
    if (out / PARTIAL_HISTORY).exists():
        os.replace(out / PARTIAL_HISTORY, out / HISTORY)
    if (out / PARTIAL_JOB).exists():
        os.replace(out / PARTIAL_JOB, out / JOB)
    os.replace(staged, out / SOLUTION)
    return out / SOLUTION
