"""Nothing is lost: output directories, detached fits, resume with a higher maxiter, scripts.

A fit that fails or is stopped leaves the previous fit's files as they were; ``mpicg stop``
and ``kill`` of a detached fit's id stop every rank cleanly with a progress file; ``attach``
never shows a solution its run did not write; ``--detach`` checks the job first; damaged
records are one line. Every job runs in a subprocess with a timeout.
"""

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
from _jobs import bits, finish, mpicg, start, wait_for_rows, write_slow_demo_job
from _mpirun import mpirun_path
from test_failure_matrix import line_job

from mpicg.cli.demo import write_demo_job
from mpicg.cli.history import read_history
from mpicg.fitting.checkpoint import load_checkpoint

SMALL = 300  # demo observations: a fit of some 35 iterations, under a second serially


def files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} in {timeout} s")
        time.sleep(0.05)


def test_a_stopped_fit_keeps_the_previous_solution_until_its_own_exists(tmp_path):
    write_slow_demo_job(tmp_path, n_times=SMALL, delay=0.005)
    first = mpicg("fit", "job.toml", cwd=tmp_path)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr
    before = files(tmp_path)

    proc = start([mpirun_path(), "-n", "2", sys.executable, "-m", "mpicg", "fit",
                  "job.toml"], cwd=tmp_path)
    wait_for_rows(tmp_path / "history.partial.csv", 5, proc)
    proc.send_signal(signal.SIGTERM)
    out = finish(proc)
    assert proc.returncode == 75, out[-3000:]
    after = files(tmp_path)
    for name in ("solution.json", "history.csv", "job.json"):
        assert after[name] == before[name], name  # the previous fit's, untouched
    assert "job.partial.json" in after
    assert "history.partial.csv" in after

    resumed = mpicg("fit", "job.toml", "--resume-if-stopped", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr
    assert "resuming from" in resumed.stdout
    # stopped on 2 ranks, resumed serially: the first (serial, uninterrupted) fit's bits
    solution = json.loads((tmp_path / "solution.json").read_text())
    first_solution = json.loads(before["solution.json"])
    assert {k: solution[k] for k in ("fitted_values", "fun", "nit", "nfev", "njev")} == {
        k: first_solution[k] for k in ("fitted_values", "fun", "nit", "nfev", "njev")}
    assert read_history(tmp_path / "history.csv")["iteration"] == list(
        range(solution["nit"] + 1))
    assert not (tmp_path / "job.partial.json").exists()
    assert not (tmp_path / "history.partial.csv").exists()


def test_resume_with_a_higher_maxiter_ends_as_the_longer_fit(tmp_path):
    reference, work = tmp_path / "reference", tmp_path / "work"
    for directory in (reference, work):
        write_demo_job(directory, n_times=SMALL)
    text = (work / "job.toml").read_text()
    (work / "job.toml").write_text(text.replace("[fit]\n", "[fit]\nmaxiter = 5\n"))
    done = mpicg("fit", "job.toml", cwd=work)
    assert done.returncode == 4, done.stdout[-2000:] + done.stderr  # written, not converged
    assert json.loads((work / "solution.json").read_text())["status"] == 1
    assert mpicg("fit", "job.toml", cwd=reference).returncode == 0
    resumed = mpicg("resume", "progress.json", "--maxiter", "100000", cwd=work)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr
    assert bits(work) == bits(reference)
    assert json.loads((work / "solution.json").read_text())["options"]["maxiter"] == 100000


@pytest.mark.parametrize("how", ["mpicg stop", "kill"])
def test_a_detached_fit_stops_cleanly_on_every_rank(tmp_path, how):
    write_slow_demo_job(tmp_path, n_times=SMALL, delay=0.02)
    done = mpicg("fit", "job.toml", "--detach", "-n", "2", cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "detached.json").read_text())
    assert f"(or kill {record['pid']})" in done.stdout
    wait_until(lambda: (tmp_path / "history.partial.csv").exists()
               and len(read_history(tmp_path / "history.partial.csv")["iteration"]) >= 5,
               90, "5 iterations")
    if how == "kill":
        os.kill(record["pid"], signal.SIGTERM)
    else:
        stopped = mpicg("stop", tmp_path, cwd=tmp_path, timeout=120)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert "stopped; continue with: mpicg resume" in stopped.stdout
    wait_until(lambda: (tmp_path / "exit-status").exists(), 90, "exit status")
    wait_until(lambda: not Path(f"/proc/{record['pid']}/cmdline").exists()
               or not Path(f"/proc/{record['pid']}/cmdline").read_bytes(), 30,
               "the supervisor's end")  # (a zombie has no command line)
    assert json.loads((tmp_path / "exit-status").read_text()) == {"run": record["run"],
                                                                  "code": 75}
    checkpoint = load_checkpoint(tmp_path / "progress.json")
    assert checkpoint.state.k >= 4  # iteration 4's row was there when the signal went
    # No rank is left: nothing of this fit runs any more.
    leftovers = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(tmp_path / "job.toml") in cmdline:
            leftovers.append(cmdline)
    assert leftovers == []
    attached = mpicg("attach", tmp_path, "--no-follow", cwd=tmp_path, timeout=60)
    assert attached.returncode == 75
    assert "the fit was stopped by a signal; continue it with: mpicg resume" in attached.stdout
    assert not (tmp_path / "solution.json").exists()


def test_attach_never_shows_a_solution_its_run_did_not_write(tmp_path):
    directory = line_job(tmp_path / "job")
    out = directory / "out"
    for name in os.listdir(out):
        (out / name).unlink()
    good = mpicg("fit", "job.toml", cwd=directory)
    assert good.returncode == 0, good.stdout + good.stderr
    previous = (out / "solution.json").read_text()
    # The next run fails its start check (the model is not finite at a = 60).
    job = directory / "job.toml"
    job.write_text(job.read_text().replace("a = 1.9", "a = 60.0"))
    done = mpicg("fit", "job.toml", "--detach", "-n", "2", cwd=directory, timeout=60)
    assert done.returncode == 0, done.stderr
    attached = mpicg("attach", out, cwd=directory, timeout=120)
    assert attached.returncode == 2, attached.stdout + attached.stderr
    assert "the fit has ended (exit code 2)" in attached.stdout
    assert "not finite at the start" in attached.stdout  # from its log
    assert "-ln p = " not in attached.stdout  # the previous solution is not shown
    assert (out / "solution.json").read_text() == previous


def test_detach_checks_the_job_first(tmp_path):
    write_demo_job(tmp_path, n_times=SMALL)
    job = tmp_path / "job.toml"
    job.write_text(job.read_text().replace('parameters = ["incl"', 'parameters = ["inc"'))
    done = mpicg("fit", "job.toml", "--detach", "-n", "2", cwd=tmp_path, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "'inc' is not a parameter of the model" in done.stderr
    assert not (tmp_path / "detached.json").exists()
    assert not (tmp_path / "fit.log").exists()


@pytest.mark.parametrize(("name", "text", "message"), [
    ("detached.json", "{not json", "the detached-fit record"),
    ("detached.json", "[1, 2]", "is damaged (not a record)"),
    ("exit-status", "{not json", "the exit-status record"),
])
def test_damaged_records_are_one_line(tmp_path, name, text, message):
    (tmp_path / "detached.json").write_text(json.dumps({"pid": 2 ** 22 + 7, "run": "x"}))
    (tmp_path / name).write_text(text)
    done = mpicg("attach", tmp_path, "--no-follow", cwd=tmp_path, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_missing_or_unwritable_output_parent_is_one_clear_error(tmp_path):
    write_demo_job(tmp_path, n_times=SMALL)
    (tmp_path / "blocker").write_text("a file, not a directory")
    job = tmp_path / "job.toml"
    job.write_text(job.read_text().replace('directory = "."', 'directory = "blocker/out"'))
    done = mpicg("fit", "job.toml", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "output directory" in done.stderr
    assert "cannot be created" in done.stderr
    assert "Traceback" not in done.stderr


def test_submit_quotes_paths_with_spaces(tmp_path):
    directory = tmp_path / "my fits"
    write_demo_job(directory, n_times=50)
    done = mpicg("submit", "job.toml", "--scheduler", "slurm", "--dry-run", cwd=directory)
    assert done.returncode == 0, done.stderr
    script = directory / "submit.slurm"
    assert f"submit it with: sbatch '{script}'" in done.stdout
    text = script.read_text()
    assert f"#SBATCH --output='{directory}/slurm-%j.log'\n" in text
    assert f"JOB='{directory / 'job.toml'}'\n" in text
    shellcheck = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    checked = subprocess.run([shellcheck, str(script)], capture_output=True, text=True,
                             timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout
    pbs = mpicg("submit", "job.toml", "--scheduler", "pbs", "--dry-run", cwd=directory)
    assert pbs.returncode == 0, pbs.stderr
    assert f"#PBS -o '{directory}/'\n" in (directory / "submit.pbs").read_text()
