"""SIGTERM, SIGUSR1 and SIGINT: a progress file at the next safe point, exit 75, resumable."""

import os
import signal
import subprocess
import sys
import time

import pytest
from _mpirun import ROOT, SCRIPTS, mpirun_path, run_script

from mpicg.parallel.signals import EXIT_INTERRUPTED


def _result(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("RESULT")]
    assert len(lines) == 1, output[-3000:]
    return lines[0]


@pytest.fixture(scope="module")
def reference():
    job = run_script(1, "signal_fit.py", "unused", "plain", timeout=120)
    assert job.returncode == 0, job.output[-3000:]
    return _result(job.output)


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGUSR1", "SIGINT"])
def test_signal_checkpoints_exits_75_and_resumes(tmp_path, reference, signame):
    path = tmp_path / "progress.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([mpirun_path(), "-n", "2", sys.executable,
                             str(SCRIPTS / "signal_fit.py"), str(path), "fresh"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        seen = 0
        deadline = time.monotonic() + 60
        while seen < 2 and time.monotonic() < deadline:  # well inside the fit
            seen += proc.stdout.readline().startswith("ITERATION")
        proc.send_signal(getattr(signal, signame))
        t0 = time.monotonic()
        rest, _ = proc.communicate(timeout=30)
        stopped_after = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == EXIT_INTERRUPTED, rest[-3000:]
    assert stopped_after < 10
    assert "RESULT" not in rest
    assert path.exists()
    resumed = run_script(3, "signal_fit.py", path, "resume", timeout=60)
    assert resumed.returncode == 0, resumed.output[-3000:]
    assert _result(resumed.output) == reference
