"""The mpicg command: demo, fit, resume (after SIGTERM, SIGKILL), report, detach/attach.

Every job runs in a subprocess with a timeout, so a hang fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time

import pytest
from _jobs import bits, copy_job, finish, mpicg, start, wait_for_rows
from _mpirun import mpirun_path, run_mpi

from mpicg.cli.demo import START, TRUTH, write_demo_job
from mpicg.cli.history import read_history


def test_demo_under_mpirun_2_and_its_report(tmp_path):
    job = run_mpi(2, ["-m", "mpicg", "demo", "--output", str(tmp_path / "demo")],
                  timeout=120, cwd=tmp_path)
    assert job.returncode == 0, job.output[-3000:]
    assert "mpicg demo: a detached eclipsing binary" in job.output
    assert job.output.count("mpicg demo:") == 1  # rank 0 alone prints
    solution = json.loads((tmp_path / "demo" / "solution.json").read_text())
    assert solution["status"] == 0
    assert solution["n_ranks"] == 2
    for name, start_value in START.items():
        fitted, truth = solution["fitted_values"][name], TRUTH[name]
        # much nearer the truth than the start was
        assert abs(fitted - truth) < 0.05 * abs(start_value - truth), name
    history = read_history(tmp_path / "demo" / "history.csv")
    assert history["iteration"] == list(range(solution["nit"] + 1))
    assert history["nfev"][-1] == solution["nfev"]

    done = mpicg("report", tmp_path / "demo" / "solution.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "reduced chi^2 = " in done.stdout
    for name in ("fit.png", "convergence.png"):
        data = (tmp_path / "demo" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 20_000  # a drawn figure, not an empty canvas
    text = (tmp_path / "demo" / "report.txt").read_text()
    assert "Optimization terminated successfully. (status 0)" in text
    assert "incl" in text
    assert "sbratio" in text


def test_sigterm_then_resume_on_another_rank_count_gives_the_same_bits(reference, tmp_path):
    work = copy_job(reference, tmp_path / "job")
    proc = start([mpirun_path(), "-n", "2", sys.executable, "-m", "mpicg", "fit",
                  "job.toml"], cwd=work)
    wait_for_rows(work / "history.partial.csv", 25, proc)  # the running fit's
    proc.send_signal(signal.SIGTERM)
    out = finish(proc)
    assert proc.returncode == 75, out[-3000:]
    assert f"continue with: mpicg resume {work / 'progress.json'}" in out
    assert not (work / "solution.json").exists()

    resumed = run_mpi(3, ["-m", "mpicg", "resume", "progress.json"], timeout=120, cwd=work)
    assert resumed.returncode == 0, resumed.output[-3000:]
    assert "resuming from progress.json" in resumed.output
    assert bits(work) == bits(reference)
    history = read_history(work / "history.csv")
    assert history["iteration"] == list(range(bits(work)["nit"] + 1))
    assert history["fun"] == read_history(reference / "history.csv")["fun"]


@pytest.mark.parametrize(("every", "rows", "resumes"), [(1, 3, True), (1, 40, True),
                                                        (10, 5, False)])
def test_sigkill_then_fit_resume_if_stopped_gives_the_same_bits(reference, tmp_path, every,
                                                                 rows, resumes):
    work = copy_job(reference, tmp_path / "job")
    text = (work / "job.toml").read_text()
    (work / "job.toml").write_text(text.replace("progress_every_niters = 10",
                                                f"progress_every_niters = {every}"))
    proc = start([mpirun_path(), "-n", "2", sys.executable, "-m", "mpicg", "fit",
                  "job.toml"], cwd=work)
    wait_for_rows(work / "history.partial.csv", rows, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert not (work / "solution.json").exists()
    done = mpicg("fit", "job.toml", "--resume-if-stopped", cwd=work)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    # Killed before the first progress file, the fit starts again; else it resumes.
    assert ("resuming from" in done.stdout) == resumes
    assert bits(work) == bits(reference)
    assert read_history(work / "history.csv")["iteration"] == list(range(bits(work)["nit"] + 1))


def test_a_bad_job_file_under_mpirun_gives_one_error_and_every_rank_exits(reference,
                                                                          tmp_path):
    work = copy_job(reference, tmp_path / "job")
    text = (work / "job.toml").read_text().replace("gtol = 0.1", "gtol = 0.1\ngtoll = 1")
    (work / "job.toml").write_text(text)
    job = run_mpi(3, ["-m", "mpicg", "fit", "job.toml"], timeout=60, cwd=work)
    assert not job.timed_out
    assert job.returncode == 2  # every rank: mpirun combines the ranks' codes
    errors = [line for line in job.output.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, job.output
    assert "job.toml, line " in errors[0]
    assert "[fit] gtoll: unknown key" in errors[0]


def test_report_and_resume_of_missing_files_are_clear_errors(tmp_path):
    done = mpicg("report", tmp_path / "nothing.json", cwd=tmp_path)
    assert done.returncode == 2
    assert "no solution at" in done.stderr
    done = mpicg("resume", tmp_path / "progress.json", cwd=tmp_path)
    assert done.returncode == 2
    assert "progress file" in done.stderr
    assert "does not exist" in done.stderr


def test_detach_then_attach_shows_progress_and_the_solution(reference, tmp_path):
    work = copy_job(reference, tmp_path / "job")
    t0 = time.monotonic()
    done = mpicg("fit", "job.toml", "--detach", "-n", "2", cwd=work, timeout=30)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - t0 < 10  # it returns at once, the fit goes on
    assert f"mpicg attach {work}" in done.stdout
    attached = mpicg("attach", work, cwd=work, timeout=120)
    assert attached.returncode == 0, attached.stdout[-2000:] + attached.stderr
    assert "iter    1  -ln p" in attached.stdout
    assert "Optimization terminated successfully. (status 0)" in attached.stdout
    assert "the fit has ended (exit code 0)" in attached.stdout
    assert bits(work) == bits(reference)
    again = mpicg("attach", work, "--no-follow", cwd=work, timeout=30)
    assert "the fit has ended (exit code 0)" in again.stdout


@pytest.mark.parametrize("damage", ["truncated", "foreign"])
def test_a_bad_progress_file_under_mpirun_is_one_clear_error(reference, tmp_path, damage):
    work = copy_job(reference, tmp_path / "job")
    shutil.copy(reference / "job.json", work / "job.json")
    good = (reference / "progress.json").read_bytes()
    if damage == "truncated":
        (work / "progress.json").write_bytes(good[: len(good) // 2])
        expected = "is truncated or not a progress file"
    else:  # another job's progress file: same model, other data
        other = tmp_path / "other"
        write_demo_job(other, n_times=50)
        done = mpicg("fit", "job.toml", cwd=other)
        assert done.returncode == 0, done.stderr
        shutil.copy(other / "progress.json", work / "progress.json")
        expected = "belongs to another problem"
    job = run_mpi(3, ["-m", "mpicg", "resume", "progress.json"], timeout=60, cwd=work)
    assert not job.timed_out
    assert job.returncode == 2, job.output
    errors = [line for line in job.output.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, job.output
    assert expected in errors[0]
    assert not (work / "solution.json").exists()
