"""Failures in MPI jobs end every rank quickly, with one clear error naming the rank."""

import os
import signal
import subprocess
import sys
import time

import pytest
from _mpirun import ROOT, SCRIPTS, mpirun_path, run_script

N_RANKS = 3  # rank 0, a middle rank (1) and the last rank (2)
# The failing rank's n-th model call. With sharing='blocks' these are the first call, one in
# the middle of the first gradient and one in the middle of the first line-search trial;
# with 'auto' a rank's calls per round depend on the measured layout (and, on the ranks
# that probe in the first round, one is a probe).
PHASES = {"first-call": 1, "mid-gradient": 3, "mid-line-search": 5}


@pytest.mark.parametrize("sharing", ["auto", "blocks"])
@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("fail_rank", [0, 1, 2], ids=["rank0", "middle", "last"])
def test_model_exception_ends_job_naming_rank(fail_rank, phase, sharing):
    job = run_script(N_RANKS, "inject_failure.py", fail_rank, PHASES[phase], "raise", sharing,
                     timeout=30)
    assert not job.timed_out, job.output[-3000:]
    assert job.returncode != 0
    assert job.seconds < 10, f"took {job.seconds:.1f} s"
    assert f"the model raised on rank {fail_rank} (of {N_RANKS})" in job.output
    assert f"injected failure at call {PHASES[phase]}" in job.output  # remote traceback
    assert job.output.count("RemoteEvaluationError:") == 1  # one error, from rank 0
    assert "finished" not in job.output


@pytest.mark.parametrize("mode", ["exit", "kill", "segv"])
@pytest.mark.parametrize("fail_rank", [0, 2], ids=["rank0", "last"])
def test_rank_dying_ends_job(fail_rank, mode):
    job = run_script(N_RANKS, "inject_failure.py", fail_rank, 8, mode, timeout=30)
    if job.timed_out:
        # Ending the job after a rank dies outright is the launcher's work (hydra kills the
        # rest). Once, in a CI run on a loaded machine, it printed nothing and never did;
        # it did not reproduce in 22 further runs. One more try tells a launcher hiccup from
        # a real hang, which times out twice and fails.
        job = run_script(N_RANKS, "inject_failure.py", fail_rank, 8, mode, timeout=30)
    assert not job.timed_out, job.output[-3000:]
    assert job.returncode != 0
    assert job.seconds < 10
    assert "finished" not in job.output


@pytest.mark.parametrize(("case", "message"), [
    ("sigma-everywhere", "`sigma` must be > 0; sigma[17] = 0.0"),
    # Problem() raises at once where the data is bad, as serially: here on rank 2 only,
    # whose uncaught error ends the job (one message, naming the rank).
    ("nan-on-rank-2", "[rank 2] mpicg.InputError: `flux` must be finite; flux[42] = nan"),
    ("x0", "`x0` must be finite"),
])
def test_bad_input_one_error_every_rank_exits(case, message):
    job = run_script(N_RANKS, "bad_input.py", case, timeout=30)
    assert not job.timed_out, job.output[-3000:]
    assert job.returncode != 0
    assert job.seconds < 10
    assert job.output.count(message) == 1, job.output[-3000:]
    assert "finished" not in job.output


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_on_mpirun_stops_every_rank():
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([mpirun_path(), "-n", str(N_RANKS), sys.executable,
                             str(SCRIPTS / "slow_fit.py")], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        line = ""
        while "started" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
        time.sleep(1.0)  # well inside the fit
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        proc.communicate(timeout=15)
        assert proc.returncode != 0
        assert time.monotonic() - t0 < 10
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail("mpirun did not stop after SIGINT")


def test_a_script_with_its_own_collective_after_the_fit_ends_with_0():
    # Found by trying: non-root ranks announcing their exit to rank 0 (which listens only
    # at a fit's start) left unreceived messages that made MPICH's launcher kill a rank
    # after every rank had finished, when rank 0 was still in the user's gather; it
    # happened in about two runs of three at 4 ranks.
    for _ in range(3):
        job = run_script(4, "collective_after_fit.py", timeout=60)
        assert not job.timed_out, job.output[-3000:]
        assert job.returncode == 0, job.output[-3000:]
        assert "SAME True" in job.output


@pytest.mark.parametrize("n", [1, 3])
def test_a_pipeline_catches_bad_arguments_alike_on_every_rank_and_goes_on(n, tmp_path):
    # Found by trying: rank 0 raised an argument check's own ValueError, the others an
    # InputError, so a script catching InputError went on to its next fit on the other
    # ranks only, and they waited for rank 0 until the handshake's timeout.
    job = run_script(n, "pipeline_bad_arguments.py", timeout=60,
                     env={"MPICG_HANDSHAKE_TIMEOUT": "30", "MARKS": str(tmp_path)})
    assert not job.timed_out, job.output[-3000:]
    assert job.returncode == 0, job.output[-3000:]
    assert job.seconds < 25, f"took {job.seconds:.1f} s"
    for rank in range(n):
        assert (tmp_path / f"{rank}-nan-start").read_text() == "caught InputError"
        assert (tmp_path / f"{rank}-bad-callback").read_text() == "caught TypeError"
        assert (tmp_path / f"{rank}-good").read_text().startswith("ok ")
        assert (tmp_path / f"{rank}-named-bad-callback").read_text() == "caught TypeError"
        assert (tmp_path / f"{rank}-named-good").read_text() == "ok"
