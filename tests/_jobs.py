"""Helpers for tests that run the mpicg command: subprocesses with timeouts, and results."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mpicg.cli.history import read_history

N_TIMES = 1200  # small enough for a few seconds per fit, big enough to interrupt one


def mpicg(*args, cwd, timeout=120) -> subprocess.CompletedProcess:
    """``python -m mpicg args...`` on one process."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "mpicg", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=env,
                          check=False)


def bits(directory: Path) -> dict:
    """What must be equal to the last bit between runs (JSON floats round-trip exactly)."""
    s = json.loads((Path(directory) / "solution.json").read_text())
    return {k: s[k] for k in ("fitted_values", "fun", "nit", "nfev", "njev", "status")}


def copy_job(source: Path, target: Path) -> Path:
    target.mkdir()
    for name in ("job.toml", "lightcurve.csv"):
        shutil.copy(source / name, target / name)
    return target


def wait_for_rows(history: Path, rows: int, proc: subprocess.Popen, timeout=60.0) -> None:
    """Until the fit's history has ``rows`` iterations (or fail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if history.exists() and len(read_history(history)["iteration"]) >= rows:
            return
        if proc.poll() is not None:
            pytest.fail(f"the fit ended (exit {proc.returncode}) before {rows} iterations")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail(f"no {rows} iterations in {timeout} s")


def start(command: list[str], cwd: Path, env=None) -> subprocess.Popen:
    full = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=full,
                            start_new_session=True)


def finish(proc: subprocess.Popen, timeout=120.0) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"timed out:\n{out[-3000:]}")
    return out


SLOW_MODELS = '''\
import time
from dataclasses import dataclass

from mpicg.models import EclipsingBinary


@dataclass(frozen=True)
class SlowBinary(EclipsingBinary):
    """The demo's binary, slower by a fixed delay per call: a fit long enough to stop."""

    delay: float = 0.02

    def __call__(self, values, times):
        time.sleep(self.delay)
        return super().__call__(values, times)
'''


def write_slow_demo_job(directory: Path, n_times: int = 300, delay: float = 0.02) -> Path:
    """The demo's job with a model ``delay`` seconds slower per call (a job-dir module).

    The demo converges in some 35 iterations within a second; a test that stops a fit
    mid-way needs it to last: about 2 rounds of 9 calls per iteration, so ``delay`` = 0.02
    makes some 0.4 s per iteration on each rank.
    """
    from mpicg.cli.demo import write_demo_job

    job = write_demo_job(directory, n_times=n_times)
    (Path(directory) / "slowmodels.py").write_text(SLOW_MODELS)
    text = job.read_text()
    assert 'name = "eclipsing_binary"' in text
    text = text.replace('name = "eclipsing_binary"', 'name = "slowmodels:SlowBinary"')
    text = text.replace("options = { resolution", f"options = {{ delay = {delay}, resolution")
    job.write_text(text)
    return job
