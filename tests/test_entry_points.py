"""The README's main command (mpicg demo under mpirun) and the benchmark script run."""

import os
import subprocess
import sys

import pytest
from _mpirun import ROOT, run_mpi


def test_demo_serial_via_python_m(capsys, tmp_path):
    from mpicg.__main__ import main

    code = main(["demo", "--n-times", "300", "--resolution", "6", "--output",
                 str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    assert "Optimization terminated successfully." in out
    assert "on 1 rank(s)" in out
    assert (tmp_path / "out" / "solution.json").exists()


def test_demo_under_mpirun_prints_once(tmp_path):
    job = run_mpi(2, ["-m", "mpicg", "demo", "--n-times", "400", "--resolution", "6",
                      "--output", str(tmp_path / "out")], timeout=120)
    assert not job.timed_out
    assert job.returncode == 0, job.output[-3000:]
    assert job.output.count("Optimization terminated successfully.") == 1
    assert "on 2 rank(s)" in job.output


@pytest.mark.parametrize(("argv", "message"), [
    (["--resolution", "0"], "argument --resolution: must be at least 1; got 0"),
    (["--seed", "-1"], "argument --seed: must be at least 0; got -1"),  # (a traceback)
    (["--n-times", "many"], "argument --n-times: must be an integer; got 'many'")])
def test_demo_rejects_bad_arguments(tmp_path, argv, message):
    done = subprocess.run([sys.executable, "-m", "mpicg", "demo", *argv],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"mpicg demo: error: {message}" in done.stderr  # (the demo's usage line)
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_benchmark_script_smoke():
    done = subprocess.run([sys.executable, "benchmarks/scaling.py", "--repeats", "1",
                           "--max-ranks", "2", "--n-times", "200", "--resolution", "4"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "| 2 |" in done.stdout
    assert "E(N) mpicg" in done.stdout


def test_simulation_benchmark_smoke_with_a_slow_rank():
    # benchmarks/simulation.py end to end (its serial pass that finds the batch sizes, a
    # fit on 1 and 2 ranks, the tables), with the middle rank sleeping longer.
    env = dict(os.environ, MPICG_SIMULATION_SLOW_RANK="1.5")
    done = subprocess.run([sys.executable, "benchmarks/simulation.py", "--kinds", "flat",
                           "--ranks", "1,2", "--sharings", "auto", "--maxiter", "1",
                           "--repeats", "1"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "the middle rank 1.5 times slower" in done.stdout
    assert "flat, auto: every run ended with the same bits: True" in done.stdout
    assert "| 2 |" in done.stdout
