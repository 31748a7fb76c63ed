"""The failure matrix: every failure class found by trying the product, under mpirun -n 2 and 3.

Each case runs as a user would run it (a script under ``mpirun``, or ``mpirun -n N mpicg fit``),
under a timeout, and is held to: no hang, no false success, the documented exit code (the
same on every rank: ``mpirun`` combines them), one message, and the files it leaves (a
failed or concurrent run never removes or mixes another run's files).

The jobs are independent, so they run a few at a time (a module fixture with a thread pool);
each test then checks one job's outcome.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from _jobs import finish, mpicg, start, write_slow_demo_job
from _mpirun import Job, mpirun_path, run_mpi, run_script

from mpicg.cli.history import read_history

RANKS = (2, 3)
TIMEOUT = 90  # seconds per job: far beyond what any case needs; a hang fails, not stalls
SHORT_HANDSHAKE = {"MPICG_HANDSHAKE_TIMEOUT": "3"}

CASES_PY = '''\
import os
import time

import numpy as np

from mpicg import Parameter, ParameterizedModel


class Line(ParameterizedModel):
    """flux = a + b t; not finite for a > 50 (a model outside its domain)."""

    parameters = (Parameter("a", 1.0), Parameter("b", 0.0))

    def __call__(self, values, times):
        a, b = values
        if a > 50:
            return np.full(times.shape, np.nan)
        return a + b * times


def fails_on_the_last_rank() -> Line:
    if int(os.environ["PMI_RANK"]) == int(os.environ["PMI_SIZE"]) - 1:
        raise RuntimeError("the model cannot be built on this rank")
    return Line()


def slow_to_build() -> Line:
    print("BUILDING", flush=True)
    time.sleep(4)
    return Line()
'''

LINE_JOB = '''\
[model]
name = "{model}"

[data]
file = "lc.csv"

[parameters]
a = {a}
b = 0.45

[fit]
parameters = ["a", "b"]
gtol = 0.01

[output]
directory = "out"
'''

PREVIOUS = {"solution.json": '{"previous": "solution"}\n', "history.csv": "previous history\n",
            "job.json": '{"previous": "job"}\n', "progress.json": '{"previous": "progress"}\n'}


def line_job(directory: Path, model: str = "cases:Line", a: float = 1.9,
             zero_sigma: bool = False) -> Path:
    """A job of the Line model, with a previous fit's files already in its output."""
    directory.mkdir(parents=True)
    (directory / "cases.py").write_text(CASES_PY)
    t = np.linspace(0, 10, 200)
    sigma = np.full(t.size, 0.1)
    if zero_sigma:
        sigma[17] = 0.0
    flux = 2.0 + 0.5 * t + np.random.default_rng(1).normal(0, 0.1, t.size)
    np.savetxt(directory / "lc.csv", np.column_stack([t, flux, sigma]), delimiter=",",
               header="time,flux,sigma", comments="")
    (directory / "job.toml").write_text(LINE_JOB.format(model=model, a=a))
    out = directory / "out"
    out.mkdir()
    for name, text in PREVIOUS.items():
        (out / name).write_text(text)
    return directory


def previous_files_kept(out: Path) -> None:
    """The previous fit's files are there, unchanged, and nothing else (but the lock)."""
    for name, text in PREVIOUS.items():
        assert (out / name).read_text() == text, name
    extra = sorted(p.name for p in out.iterdir() if p.name not in PREVIOUS)
    assert extra in ([], [".mpicg.lock"]), extra


def mpicg_fit(n: int, directory: Path, *args: str, env=None, timeout=TIMEOUT) -> Job:
    return run_mpi(n, ["-m", "mpicg", "fit", "job.toml", *args], timeout=timeout,
                   cwd=directory, env=env)


def one(output: str, text: str) -> bool:
    return output.count(text) == 1


# ---- the jobs ---------------------------------------------------------------------------------

@dataclass
class Outcome:
    job: Job
    directory: Path | None = None
    extra: dict | None = None


def _concurrent(n: int, directory: Path) -> Outcome:
    """Two fits on one output directory: the second is refused, naming the first."""
    write_slow_demo_job(directory, n_times=300, delay=0.01)
    first = start([mpirun_path(), "-n", str(n), sys.executable, "-m", "mpicg", "fit",
                   "job.toml"], cwd=directory)
    rows = directory / "history.partial.csv"
    deadline = time.monotonic() + 60
    while not (rows.exists() and len(read_history(rows)["iteration"]) >= 3):
        if first.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    second = mpicg_fit(n, directory)
    first_out = finish(first, timeout=TIMEOUT)
    return Outcome(second, directory, {"first": first.returncode, "first_out": first_out})


def _sigterm_while_starting(n: int, directory: Path) -> Outcome:
    """SIGTERM while the ranks build the model: 75 on every rank, nothing written."""
    line_job(directory, model="cases:slow_to_build")
    proc = start([mpirun_path(), "-n", str(n), sys.executable, "-m", "mpicg", "fit",
                  "job.toml"], cwd=directory)
    # Every rank says BUILDING (mpirun may run their lines together): then send SIGTERM.
    text = ""
    deadline = time.monotonic() + 60
    while text.count("BUILDING") < n and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:  # the job ended
            break
        text += line
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    rest = finish(proc, timeout=TIMEOUT)
    return Outcome(Job(proc.returncode, text + rest, time.monotonic() - t0, False), directory)


def _read_only_output(n: int, directory: Path) -> Outcome:
    line_job(directory)
    out = directory / "out"
    for p in out.iterdir():
        p.unlink()
    if os.geteuid() == 0:  # root writes into a 0555 directory: make it immutable instead
        done = subprocess.run(["chattr", "+i", str(out)], capture_output=True, check=False)
        if done.returncode != 0:
            return Outcome(Job(-1, "chattr +i unavailable: " + done.stderr.decode(), 0, False),
                           directory, {"skip": True})
    else:
        out.chmod(0o555)
    try:
        return Outcome(mpicg_fit(n, directory), directory)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(out)], check=False)
        else:
            out.chmod(0o755)


SCRIPT_CASES = ["model-system-exit", "model-keyboard-interrupt", "model-os-exit",
                "rank0-os-exit", "exits-before-fit", "sleeps-before-fit", "prior-raises",
                "nan-on-one-rank", "pipeline"]
CLI_CASES = {
    "cli-bad-data": lambda n, d: Outcome(mpicg_fit(n, line_job(d, zero_sigma=True)), d),
    "cli-start-check": lambda n, d: Outcome(mpicg_fit(n, line_job(d, a=60.0)), d),
    "cli-model-fails-on-one-rank": lambda n, d: Outcome(
        mpicg_fit(n, line_job(d, model="cases:fails_on_the_last_rank")), d),
    "cli-concurrent": _concurrent,
    "cli-sigterm-while-starting": _sigterm_while_starting,
    "cli-read-only-output": _read_only_output,
}


def _run_case(case: str, n: int, directory: Path) -> Outcome:
    if case in CLI_CASES:
        return CLI_CASES[case](n, directory)
    directory.mkdir()
    env = {"MARKS": str(directory)}  # where ranks leave a mark for what they caught
    if case == "sleeps-before-fit":
        env.update(SHORT_HANDSHAKE)
    job = run_script(n, "failure_case.py", case, timeout=TIMEOUT, env=env)
    return Outcome(job, directory)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Every (case, ranks) job, run three at a time; plus the serial pipeline."""
    base = tmp_path_factory.mktemp("matrix")
    keys = [(case, n) for case in [*SCRIPT_CASES, *CLI_CASES] for n in RANKS]
    keys.append(("pipeline", 1))
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {key: pool.submit(_run_case, key[0], key[1], base / f"{key[0]}-{key[1]}")
                   for key in keys}
        return {key: future.result() for key, future in futures.items()}


def check(outcomes, case: str, n: int) -> Outcome:
    outcome = outcomes[(case, n)]
    assert not outcome.job.timed_out, f"{case} under mpirun -n {n} hung:\n" \
                                      f"{outcome.job.output[-3000:]}"
    return outcome


def errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if "error" in line.lower()]


# ---- the tests ---------------------------------------------------------------------------------

@pytest.mark.parametrize("n", RANKS)
@pytest.mark.parametrize(("case", "rank", "what"), [
    ("model-system-exit", "last", "SystemExit: 0"),
    ("model-keyboard-interrupt", "0", "KeyboardInterrupt"),
])
def test_any_exception_in_a_model_goes_through_the_protocol(outcomes, case, rank, what, n):
    job = check(outcomes, case, n).job
    r = n - 1 if rank == "last" else 0
    assert job.returncode == 1, job.output[-3000:]
    assert one(job.output, f"the model raised on rank {r} (of {n})"), job.output[-3000:]
    assert one(job.output, f"[rank 0] {what}\n")  # the remote traceback's last line
    assert "finished" not in job.output
    assert "RESULT" not in job.output


@pytest.mark.parametrize("n", RANKS)
@pytest.mark.parametrize("case", ["model-os-exit", "rank0-os-exit"])
def test_a_rank_that_leaves_with_status_0_ends_the_job_non_zero(outcomes, case, n):
    job = check(outcomes, case, n).job
    r = 0 if case.startswith("rank0") else n - 1
    assert job.returncode == 1, job.output[-3000:]  # never 0: no false success
    assert one(job.output, f"rank {r} called os._exit(0) during a collective fit")
    assert "RESULT" not in job.output


@pytest.mark.parametrize("n", RANKS)
@pytest.mark.parametrize(("case", "message"), [
    ("exits-before-fit", "ended (its script finished or exited) before it arrived at the "
                         "start of the fit"),
    ("sleeps-before-fit", "did not arrive at the start of the fit within 3 s"),
])
def test_a_rank_that_never_calls_the_fit_is_named(outcomes, case, message, n):
    job = check(outcomes, case, n).job
    assert job.returncode == 1, job.output[-3000:]
    assert one(job.output, f"rank {n - 1} (of {n}) {message}"), job.output[-3000:]
    assert job.seconds < 60


@pytest.mark.parametrize("n", RANKS)
def test_a_prior_that_raises_is_one_message(outcomes, n):
    job = check(outcomes, "prior-raises", n).job
    assert job.returncode == 1, job.output[-3000:]  # a script's uncaught error: Python's 1
    assert one(job.output, "raised ValueError: fragile prior broke at rp = "), job.output
    assert "Traceback from rank" not in job.output  # one line, not a traceback per rank
    assert "finished" not in job.output


@pytest.mark.parametrize("n", RANKS)
def test_nan_from_one_rank_names_the_rank(outcomes, n):
    job = check(outcomes, "nan-on-one-rank", n).job
    assert job.returncode == 0, job.output[-3000:]
    assert one(job.output, f"NaN result encountered. (the model gave NaN on rank {n - 1}, "
                           "for observations")
    assert job.output.count("finished") == n


@pytest.mark.parametrize("n", RANKS)
def test_a_pipeline_that_catches_bad_data_gives_the_serial_results(outcomes, n):
    serial = check(outcomes, "pipeline", 1).job
    job = check(outcomes, "pipeline", n).job
    assert serial.returncode == 0, serial.output[-3000:]
    assert job.returncode == 0, job.output[-3000:]

    def results(output):
        return sorted(line for line in output.splitlines() if line.startswith("RESULT"))

    assert len(results(serial.output)) == 2
    assert results(job.output) == results(serial.output)  # the same bits, the same fits
    directory = outcomes[("pipeline", n)].directory
    assert sorted(p.name for p in directory.iterdir()) == [f"caught-1-{r}" for r in range(n)]
    assert "`sigma` must be > 0" in (directory / "caught-1-0").read_text()


@pytest.mark.parametrize("n", RANKS)
def test_bad_data_in_the_cli_exits_2_on_every_rank_nothing_touched(outcomes, n):
    outcome = check(outcomes, "cli-bad-data", n)
    assert outcome.job.returncode == 2, outcome.job.output[-3000:]
    assert len(errors(outcome.job.output)) == 1, outcome.job.output
    assert "lc.csv, line 19: sigma must be > 0; got 0.0" in errors(outcome.job.output)[0]
    previous_files_kept(outcome.directory / "out")


@pytest.mark.parametrize("n", RANKS)
def test_a_failed_start_check_exits_2_and_keeps_the_previous_solution(outcomes, n):
    outcome = check(outcomes, "cli-start-check", n)
    assert outcome.job.returncode == 2, outcome.job.output[-3000:]  # not 3 (2|1)
    assert len(errors(outcome.job.output)) == 1, outcome.job.output
    assert "not finite at the start" in errors(outcome.job.output)[0]
    assert "gave NaN on rank 0" in errors(outcome.job.output)[0]
    previous_files_kept(outcome.directory / "out")


@pytest.mark.parametrize("n", RANKS)
def test_a_model_that_cannot_be_built_on_one_rank_stops_every_rank(outcomes, n):
    outcome = check(outcomes, "cli-model-fails-on-one-rank", n)
    output = outcome.job.output
    assert outcome.job.returncode == 1, output[-3000:]
    assert one(output, f"failed on rank {n - 1} (of {n}) while reading the job"), output
    assert one(output, "RuntimeError: the model cannot be built on this rank"), output
    previous_files_kept(outcome.directory / "out")


@pytest.mark.parametrize("n", RANKS)
def test_a_second_fit_on_an_output_directory_is_refused_naming_the_first(outcomes, n):
    outcome = check(outcomes, "cli-concurrent", n)
    second, first = outcome.job, outcome.extra
    assert second.returncode == 2, second.output[-3000:]
    assert len(errors(second.output)) == 1, second.output
    assert "is in use by the fit `mpicg fit job.toml` (pid " in errors(second.output)[0]
    assert first["first"] == 0, first["first_out"][-3000:]
    history = read_history(outcome.directory / "history.csv")  # the first fit's, whole
    nit = int(first["first_out"].split(" after ")[1].split(" iterations")[0])
    assert history["iteration"] == list(range(nit + 1))


@pytest.mark.parametrize("n", RANKS)
def test_sigterm_while_starting_exits_75_on_every_rank_nothing_written(outcomes, n):
    outcome = check(outcomes, "cli-sigterm-while-starting", n)
    output = outcome.job.output
    assert outcome.job.returncode == 75, output[-3000:]
    assert one(output, "stopped by SIGTERM before the fit began"), output
    previous_files_kept(outcome.directory / "out")


@pytest.mark.parametrize("n", RANKS)
def test_a_read_only_output_directory_is_one_clear_error(outcomes, n):
    outcome = check(outcomes, "cli-read-only-output", n)
    if outcome.extra and outcome.extra.get("skip"):
        pytest.skip(outcome.job.output)
    assert outcome.job.returncode == 2, outcome.job.output[-3000:]
    assert len(errors(outcome.job.output)) == 1, outcome.job.output
    assert "is not writable" in errors(outcome.job.output)[0]
    assert list((outcome.directory / "out").iterdir()) == []


def test_a_launcher_mpi_mismatch_is_refused_with_the_fix(tmp_path):
    # What plain srun gives the mpich wheel: the step says 2 tasks, MPI sees 1 rank each.
    directory = line_job(tmp_path / "job")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "SLURM_"))}
    outputs = []
    for procid in ("0", "1"):
        env.update(SLURM_PROCID=procid, SLURM_STEP_NUM_TASKS="2", SLURM_STEP_ID="0")
        done = subprocess.run([sys.executable, "-m", "mpicg", "fit", "job.toml"],
                              cwd=directory, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT, check=False)
        assert done.returncode == 2, done.stdout + done.stderr
        outputs.append(done.stdout + done.stderr)
    assert one(outputs[0], "the launcher started 2 tasks (SLURM_STEP_NUM_TASKS=2), but MPI "
                           "sees one rank in each")
    assert "srun --mpi=pmi2" in outputs[0]
    assert outputs[1].strip() == ""  # task 1 leaves quietly: one message per job
    previous_files_kept(directory / "out")


def test_the_serial_fit_of_the_line_job_works(tmp_path):
    # The jobs above fail for the reason each case sets up, not because the job is broken.
    directory = line_job(tmp_path / "job")
    done = mpicg("fit", "job.toml", cwd=directory)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (directory / "out" / "solution.json").read_text() != PREVIOUS["solution.json"]
    assert not (directory / "out" / "job.partial.json").exists()
