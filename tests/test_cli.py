"""The mpicg command: demo, fit, resume (after SIGTERM, SIGKILL), report, detach/attach.

Every job runs in a subprocess with a timeout, so a hang fails the test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
import time
import uuid
from pathlib import Path

import pytest
from _jobs import (
    N_TIMES,
    bits,
    copy_job,
    finish,
    mpicg,
    start,
    wait_for_rows,
    write_slow_demo_job,
)
from _mpirun import mpirun_path, run_mpi

from mpicg.cli.demo import START, TRUTH, write_demo_job
from mpicg.cli.history import read_history
from mpicg.errors import EXIT_NOT_CONVERGED


def test_demo_under_mpirun_2_and_its_report(tmp_path):
    job = run_mpi(2, ["-m", "mpicg", "demo", "--output", str(tmp_path / "demo")],
                  timeout=120, cwd=tmp_path)
    assert job.returncode == 0, job.output[-3000:]
    assert "mpicg demo: a detached eclipsing binary" in job.output
    assert job.output.count("mpicg demo:") == 1  # rank 0 alone prints
    solution = json.loads((tmp_path / "demo" / "solution.json").read_text())
    assert solution["status"] == 0
    assert solution["n_ranks"] == 2
    # Acceptance: converged, in at most 40 iterations, every parameter within 3 sigma of
    # the truth, with the defaults (scale 'auto', default steps).
    assert solution["diagnosis"]["verdict"] == "converged"
    assert solution["nit"] <= 40
    assert solution["options"]["scale"] == dict.fromkeys(START, "auto")
    assert solution["options"]["steps"] == {}
    for name, start_value in START.items():
        fitted, truth = solution["fitted_values"][name], TRUTH[name]
        sigma = solution["uncertainties"][name]
        assert abs(fitted - truth) < 3 * sigma, name
        # much nearer the truth than the start was
        assert abs(fitted - truth) < 0.05 * abs(start_value - truth), name
    assert "(fitted - truth) / sigma" in job.output
    assert "converged: the scaled gradient" in job.output
    history = read_history(tmp_path / "demo" / "history.csv")
    assert history["iteration"] == list(range(solution["nit"] + 1))
    assert history["nfev"][-1] == solution["nfev"]

    done = mpicg("report", tmp_path / "demo" / "solution.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "reduced chi^2 = " in done.stdout
    for name in ("fit.png", "convergence.png", "correlation.png"):
        data = (tmp_path / "demo" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 20_000  # a drawn figure, not an empty canvas
    text = (tmp_path / "demo" / "report.txt").read_text()
    assert "Optimization terminated successfully. (status 0)" in text
    assert "diagnosis: converged" in text
    assert re.search(r"incl +\= 86\.\d+ ± 0\.0\d+ deg", text), text  # value ± sigma, unit
    assert "sbratio" in text


def test_a_fit_pushed_against_a_prior_edge_exits_4_naming_the_parameter(tmp_path):
    # Acceptance: not converged (r1's prior excludes the truth, 0.12) -> a non-zero exit
    # code and a diagnosis that names r1, on every rank.
    write_demo_job(tmp_path, n_times=N_TIMES)
    text = (tmp_path / "job.toml").read_text()
    text = text.replace("[output]", '[priors]\nr1 = { kind = "uniform", low = 0.125, '
                                    'high = 0.5 }\n\n[output]')
    (tmp_path / "job.toml").write_text(text.replace("r1 = 0.11", "r1 = 0.13"))
    job = run_mpi(2, ["-m", "mpicg", "fit", "job.toml"], timeout=120, cwd=tmp_path)
    assert not job.timed_out
    assert job.returncode == EXIT_NOT_CONVERGED, job.output[-3000:]
    solution = json.loads((tmp_path / "solution.json").read_text())
    assert solution["diagnosis"]["verdict"] == "not converged"
    assert solution["diagnosis"]["parameters"] == ["r1"]
    complaint = [line for line in job.output.splitlines() if "did not converge" in line]
    assert len(complaint) == 1, job.output[-3000:]  # once, from rank 0
    assert "mpicg fit: the fit did not converge (exit code 4)" in complaint[0]
    assert "r1 = " in complaint[0]
    assert "lower edge of its prior Uniform(low=0.125" in complaint[0]


def test_a_resumed_fit_that_runs_out_of_iterations_exits_4(tmp_path):
    write_demo_job(tmp_path, n_times=N_TIMES)
    text = (tmp_path / "job.toml").read_text().replace("[fit]\n", "[fit]\nmaxiter = 3\n")
    (tmp_path / "job.toml").write_text(text.replace("progress_every_niters = 10",
                                                    "progress_every_niters = 1"))
    first = run_mpi(2, ["-m", "mpicg", "fit", "job.toml"], timeout=120, cwd=tmp_path)
    assert first.returncode == EXIT_NOT_CONVERGED, first.output[-3000:]
    job = run_mpi(3, ["-m", "mpicg", "resume", "progress.json"], timeout=120, cwd=tmp_path)
    assert job.returncode == EXIT_NOT_CONVERGED, job.output[-3000:]
    assert "mpicg resume: the fit did not converge (exit code 4): the iteration limit " \
           "maxiter = 3 was reached" in job.output


def _same_history(work, reference) -> None:
    """The resumed fit's history is the uninterrupted one's (parameters too), no NaN row."""
    history, expected = read_history(work / "history.csv"), read_history(
        reference / "history.csv")
    assert history["iteration"] == list(range(bits(work)["nit"] + 1))
    for column, values in expected.items():
        if column != "seconds_per_round":
            assert history[column] == values, column


def _rank_pid(marker: str, rank: int, timeout: float = 30.0) -> int:
    """The pid of one rank of the job whose environment has ``MPICG_TEST_LAUNCH=marker``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                environ = (Path("/proc") / entry / "environ").read_bytes().split(b"\0")
                cmdline = (Path("/proc") / entry / "cmdline").read_bytes()
            except OSError:
                continue
            if (f"PMI_RANK={rank}".encode() in environ and b"mpicg" in cmdline
                    and f"MPICG_TEST_LAUNCH={marker}".encode() in environ):
                return int(entry)
        time.sleep(0.1)
    raise AssertionError(f"no rank {rank} of the job {marker} found")


def test_sigterm_then_resume_on_another_rank_count_gives_the_same_bits(reference, tmp_path):
    work = tmp_path / "job"
    write_slow_demo_job(work, n_times=N_TIMES, delay=0.01)  # the same bits, slower
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
    _same_history(work, reference)  # the stopped iteration's row has its parameters


def test_sigterm_to_one_rank_other_than_0_stops_the_fit_with_a_progress_file(reference,
                                                                            tmp_path):
    # A batch system may signal the ranks of one node only: rank 0 learns of it with that
    # rank's sums and stops at the end of the iteration, as for its own signal.
    work = tmp_path / "job"
    write_slow_demo_job(work, n_times=N_TIMES, delay=0.01)
    marker = uuid.uuid4().hex  # mpirun passes the environment on to every rank
    proc = start([mpirun_path(), "-n", "2", sys.executable, "-m", "mpicg", "fit",
                  "job.toml"], cwd=work, env={"MPICG_TEST_LAUNCH": marker})
    wait_for_rows(work / "history.partial.csv", 10, proc)
    os.kill(_rank_pid(marker, 1), signal.SIGTERM)
    out = finish(proc)
    assert proc.returncode == 75, out[-3000:]
    assert f"stopped by SIGTERM after writing {work / 'progress.json'}" in out, out[-3000:]
    assert not (work / "solution.json").exists()
    done = mpicg("resume", "progress.json", cwd=work)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert bits(work) == bits(reference)
    _same_history(work, reference)


def test_a_resumed_fit_says_which_job_file_options_it_does_not_use(tmp_path):
    # A resumed fit keeps the options it started with; an edit of gtol went unsaid.
    work = tmp_path / "job"
    write_slow_demo_job(work, n_times=N_TIMES, delay=0.01)
    text = (work / "job.toml").read_text().replace("progress_every_niters = 10",
                                                   "progress_every_niters = 1")
    (work / "job.toml").write_text(text)
    proc = start([sys.executable, "-m", "mpicg", "fit", "job.toml"], cwd=work)
    wait_for_rows(work / "history.partial.csv", 3, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert "gtol = 0.003" in text
    (work / "job.toml").write_text(text.replace("gtol = 0.003", "gtol = 0.01"))
    done = mpicg("fit", "job.toml", "--resume-if-stopped", cwd=work)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert ("note: a resumed fit keeps the options it started with: gtol 0.003 (the job "
            "file says 0.01)") in done.stdout
    assert "keeps the options" not in done.stderr  # (said once: not the library's warning too)


def test_resume_with_a_maxiter_not_above_the_iterations_done_is_bad_input(reference,
                                                                          tmp_path):
    work = copy_job(reference, tmp_path / "job")
    text = (work / "job.toml").read_text()
    (work / "job.toml").write_text(text.replace("progress_every_niters = 10",
                                                "progress_every_niters = 1"))
    assert mpicg("fit", "job.toml", cwd=work).returncode == 0
    solution = (work / "solution.json").read_bytes()
    done = mpicg("resume", "progress.json", "--maxiter", "3", cwd=work)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr
    assert "`maxiter` = 3 is not above the" in done.stderr
    assert (work / "solution.json").read_bytes() == solution  # the converged fit's, untouched


@pytest.mark.parametrize(("every", "rows", "resumes"), [(1, 3, True), (1, 35, True),
                                                        (10, 5, False)])
def test_sigkill_then_fit_resume_if_stopped_gives_the_same_bits(reference, tmp_path, every,
                                                                 rows, resumes):
    # The demo converges in 39 iterations, in under a second: a model slower per call (the
    # same bits) leaves time to kill it late in the fit, before its solution is written.
    work = tmp_path / "job"
    write_slow_demo_job(work, n_times=N_TIMES, delay=0.01)
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
    text = (work / "job.toml").read_text().replace("[fit]\n", "[fit]\ngtoll = 1\n")
    (work / "job.toml").write_text(text)
    job = run_mpi(3, ["-m", "mpicg", "fit", "job.toml"], timeout=60, cwd=work)
    assert not job.timed_out
    assert job.returncode == 2  # every rank: mpirun combines the ranks' codes
    errors = [line for line in job.output.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, job.output
    assert "job.toml, line " in errors[0]
    assert "[fit] gtoll: unknown key" in errors[0]


@pytest.mark.parametrize("argv", [["fit"], ["frobnicate"], ["demo", "--seed", "abc"]],
                         ids=["missing-job", "unknown-command", "bad-option-value"])
def test_a_command_line_error_under_mpirun_is_printed_once(tmp_path, argv):
    # Every rank parses the same command line: each printed argparse's usage and error.
    job = run_mpi(3, ["-m", "mpicg", *argv], timeout=60, cwd=tmp_path)
    assert not job.timed_out
    assert job.returncode == 2
    assert job.output.count("usage: mpicg") == 1, job.output
    assert len([line for line in job.output.splitlines() if "error:" in line]) == 1


@pytest.mark.parametrize("extra", [["--detach", "-n", "2"], ["-n", "3"]],
                         ids=["detach-under-mpirun", "ranks-without-detach"])
def test_detach_options_misused_under_mpirun_are_one_clear_error(reference, tmp_path,
                                                                  extra):
    # --detach under mpirun once left no fit running while saying it had started one (the
    # child mpirun inherited the launch's environment); -n without --detach was ignored.
    work = copy_job(reference, tmp_path / "job")
    job = run_mpi(2, ["-m", "mpicg", "fit", "job.toml", *extra], timeout=60, cwd=work)
    assert not job.timed_out
    assert job.returncode == 2
    errors = [line for line in job.output.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, job.output
    assert "--detach" in errors[0]
    assert not (work / "solution.json").exists()


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


def test_attach_sees_a_fit_whose_supervisor_was_killed_as_running(tmp_path):
    # attach once said "the fit has ended" while its ranks went on computing.
    write_slow_demo_job(tmp_path, delay=0.05)
    done = mpicg("fit", "job.toml", "--detach", "-n", "1", cwd=tmp_path, timeout=30)
    assert done.returncode == 0, done.stderr
    supervisor = json.loads((tmp_path / "detached.json").read_text())["pid"]
    deadline = time.monotonic() + 60
    while not (tmp_path / "history.partial.csv").exists():  # the fit has begun
        assert time.monotonic() < deadline, (tmp_path / "fit.log").read_text()
        time.sleep(0.05)
    os.kill(supervisor, signal.SIGKILL)
    try:
        attached = mpicg("attach", tmp_path, "--no-follow", cwd=tmp_path, timeout=30)
        assert "the fit is still running" in attached.stdout, attached.stdout
    finally:
        stopped = mpicg("stop", tmp_path, cwd=tmp_path, timeout=120)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr


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
