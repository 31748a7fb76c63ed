"""The batch path on a real one-node SLURM: the script ``mpicg submit`` writes, run by sbatch.

N ranks share one fit (one MPI world, not N serial fits); USR1 to the batch shell (what
``--signal=B:USR1@120`` sends before the time limit, here sent at once with ``scancel
--signal=USR1 --batch``) writes the progress file and ends the job with 75; the script
resubmits itself; the resubmitted job resumes and ends with the uninterrupted fit's bits.
A launch whose tasks are not one MPI job (plain ``srun`` with the pip mpich wheel) is
refused with one message, exit code 2, nothing written.

SLURM comes from ``.ci/slurm/start.sh`` (Debian's slurmctld, slurmd, slurm-client, munge;
installed with apt if missing, daemons started by hand): ``.ci/run`` starts it and sets
``MPICG_SLURM_CONF``; otherwise this module starts it itself (as root) and stops it after.
The tests skip, saying why, only when SLURM cannot be installed or started.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _jobs import bits, mpicg, write_slow_demo_job
from _mpirun import ROOT

from mpicg.cli.demo import write_demo_job
from mpicg.cli.history import read_history

START, STOP = ROOT / ".ci" / "slurm" / "start.sh", ROOT / ".ci" / "slurm" / "stop.sh"
FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
            "PREEMPTED", "BOOT_FAIL", "DEADLINE"}
N_TIMES = 300
DELAY = 0.01  # seconds per model call: the fit (some 35 iterations) lasts long enough to stop


def _up(env: dict) -> bool:
    try:
        done = subprocess.run(["scontrol", "ping"], env=env, capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "is UP" in done.stdout


@pytest.fixture(scope="module")
def slurm():
    """The environment to run SLURM's commands in (SLURM_CONF set)."""
    conf = os.environ.get("MPICG_SLURM_CONF")
    if conf and _up(dict(os.environ, SLURM_CONF=conf)):
        yield dict(os.environ, SLURM_CONF=conf)
        return
    if os.environ.get("MPICG_SLURM_UNAVAILABLE"):  # .ci/run tried already
        pytest.skip("real-SLURM test: SLURM could not be installed or started: "
                    + os.environ["MPICG_SLURM_UNAVAILABLE"])
    if os.geteuid() != 0:
        pytest.skip("real-SLURM test: SLURM is not running and installing/starting it needs "
                    "root (run .ci/run, or .ci/slurm/start.sh and set MPICG_SLURM_CONF)")
    done = subprocess.run([str(START)], capture_output=True, text=True, timeout=900,
                          check=False)
    if done.returncode != 0:
        pytest.skip("real-SLURM test: SLURM could not be installed or started: "
                    + (done.stdout + done.stderr).strip()[-500:])
    env = dict(os.environ, SLURM_CONF=done.stdout.strip().splitlines()[-1])
    try:
        yield env
    finally:
        subprocess.run([str(STOP)], capture_output=True, timeout=300, check=False)


def job_state(jobid: int, env: dict) -> tuple[str, str]:
    """(JobState, ExitCode) of a job (SLURM keeps finished jobs MinJobAge = 1 h)."""
    out = subprocess.run(["scontrol", "show", "job", "-o", str(jobid)], env=env,
                         capture_output=True, text=True, check=True, timeout=60).stdout
    fields = dict(f.split("=", 1) for f in out.split() if "=" in f)
    return fields["JobState"], fields["ExitCode"]


def wait_job(jobid: int, env: dict, timeout: float = 300) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    state = "?"
    while time.monotonic() < deadline:
        state, code = job_state(jobid, env)
        if state in FINISHED:
            return state, code
        time.sleep(0.3)
    subprocess.run(["scancel", str(jobid)], env=env, check=False, timeout=60)
    pytest.fail(f"job {jobid} still {state} after {timeout} s")


def submitted(text: str) -> int:
    found = re.findall(r"Submitted batch job (\d+)", text)
    assert len(found) == 1, text[-3000:]
    return int(found[0])


def submit(job_dir: Path, env: dict, *args: str) -> int:
    done = subprocess.run([sys.executable, "-m", "mpicg", "submit", "job.toml", "--scheduler",
                           "slurm", "-n", "2", "--time", "00:05:00", *args], cwd=job_dir,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return submitted(done.stdout)


def test_two_ranks_share_the_fit_usr1_stops_it_and_the_resubmitted_job_ends_it(slurm,
                                                                               tmp_path):
    reference, work = tmp_path / "reference", tmp_path / "work"
    write_demo_job(reference, n_times=N_TIMES)
    write_slow_demo_job(work, n_times=N_TIMES, delay=DELAY)  # the same bits, only slower
    done = mpicg("fit", "job.toml", cwd=reference)  # the uninterrupted fit, serially
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr

    first = submit(work, slurm)
    rows = work / "history.partial.csv"
    deadline = time.monotonic() + 180
    while not (rows.exists() and len(read_history(rows)["iteration"]) >= 8):
        state, code = job_state(first, slurm)
        assert state not in FINISHED, (state, code, (work / f"slurm-{first}.log").read_text())
        assert time.monotonic() < deadline, "no 8 iterations in 180 s"
        time.sleep(0.1)
    # What --signal=B:USR1@120 sends to the batch shell before the time limit, sent now.
    subprocess.run(["scancel", "--signal=USR1", "--batch", str(first)], env=slurm,
                   check=True, timeout=60)
    assert wait_job(first, slurm, 120) == ("FAILED", "75:0")
    log = (work / f"slurm-{first}.log").read_text()
    assert "on 2 rank(s), starting" in log, log[-3000:]
    assert log.count("stopped by SIGUSR1 after writing") == 1, log[-3000:]
    assert "resubmitting (1 of 10)" in log
    assert not (work / "solution.json").exists()
    assert json.loads((work / "progress.json").read_text())["format"] == "mpicg.progress/2"

    second = submitted(log)
    assert wait_job(second, slurm, 300) == ("COMPLETED", "0:0")
    log2 = (work / f"slurm-{second}.log").read_text()
    assert "on 2 rank(s), resuming from" in log2, log2[-3000:]
    solution = json.loads((work / "solution.json").read_text())
    assert solution["n_ranks"] == 2  # one MPI world of two ranks, not two serial fits
    assert bits(work) == bits(reference)
    assert read_history(work / "history.csv")["iteration"] == list(range(solution["nit"] + 1))
    assert "resubmitting" not in log2  # it ended: no further job


def test_plain_srun_with_the_mpich_wheel_is_refused_once_nothing_written(slurm, tmp_path):
    write_demo_job(tmp_path, n_times=50)
    assert mpicg("submit", "job.toml", "--scheduler", "slurm", "-n", "2", "--dry-run",
                 cwd=tmp_path).returncode == 0
    script = tmp_path / "submit.slurm"
    text = script.read_text()
    assert "SRUN=(srun --mpi=pmi2)\n" in text  # what submit chose for this Python's MPI
    script.write_text(text.replace("SRUN=(srun --mpi=pmi2)\n", "SRUN=(srun)\n"))
    before = sorted(p.name for p in tmp_path.iterdir())
    done = subprocess.run(["sbatch", str(script)], cwd=tmp_path, env=slurm,
                          capture_output=True, text=True, timeout=120, check=True)
    jobid = submitted(done.stdout)
    assert wait_job(jobid, slurm, 120) == ("FAILED", "2:0")
    log = (tmp_path / f"slurm-{jobid}.log").read_text()
    assert log.count("the launcher started 2 tasks (SLURM_STEP_NUM_TASKS=2), but MPI sees "
                     "one rank in each") == 1, log
    assert "srun --mpi=pmi2" in log
    after = sorted(p.name for p in tmp_path.iterdir())
    assert after == sorted([*before, f"slurm-{jobid}.log"])  # nothing else written
