"""Start MPI jobs from tests, always under a timeout, so that a hang fails instead of stalling."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mpicg.parallel import find_mpirun

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent / "mpi_scripts"


def mpirun_path() -> str:
    """The ``mpirun`` beside this Python (the mpich wheel's), else the one on PATH."""
    found = find_mpirun()
    if found is None:
        raise RuntimeError("no mpirun found: install the test extra (pip install -e '.[test]')")
    return found


@dataclass
class Job:
    returncode: int
    output: str
    seconds: float
    timed_out: bool


def run_mpi(n: int, args: list[str], timeout: float = 60.0, env: dict | None = None,
            cwd=ROOT) -> Job:
    """Run ``mpirun -n n python args...`` (from the repo root); kill it after ``timeout`` s."""
    cmd = [mpirun_path(), "-n", str(n), sys.executable, *args]
    full_env = dict(os.environ)
    full_env.update({"PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"})
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=full_env, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, _ = proc.communicate()
        timed_out = True
    return Job(proc.returncode, out, time.perf_counter() - t0, timed_out)


def run_script(n: int, script: str, *args: str, timeout: float = 60.0, env=None) -> Job:
    """Run one of tests/mpi_scripts/ under ``mpirun -n n``."""
    return run_mpi(n, [str(SCRIPTS / script), *map(str, args)], timeout=timeout, env=env)
