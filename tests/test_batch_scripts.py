"""launch/ scripts: shellcheck, mpicg submit with stub sbatch/qsub, and the scripts run for real.

The stubs stand in for the batch system: ``sbatch``/``qsub`` record what they were given,
``srun`` starts the ranks with this machine's mpirun. The SLURM script is sent USR1 the way
``--signal=B:USR1@120`` would; the PBS script's own ``timeout`` fires. Both must stop with
exit code 75, resubmit themselves, and leave a progress file the next run resumes from.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from _jobs import bits, copy_job, finish, mpicg, start, wait_for_rows, write_slow_demo_job
from _mpirun import ROOT, mpirun_path

from mpicg.cli.demo import write_demo_job
from mpicg.fitting.checkpoint import load_checkpoint

SHELLCHECK = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")

STUB_SUBMIT = """#!/bin/bash
# A stand-in for {name}: record the arguments and the script, answer like the real one.
echo "$*" >> "$STUB_LOG/{name}.calls"
cp "${{@: -1}}" "$STUB_LOG/{name}.script"
echo "{answer}"
"""
STUB_SRUN = """#!/bin/bash
# A stand-in for srun: the ranks on this machine (exec, so signals reach mpirun).
case $1 in --mpi=*) shift ;; esac
exec "$MPIRUN" -n 2 "$@"
"""


def shellcheck(path: Path) -> None:
    if not Path(SHELLCHECK).exists():
        pytest.fail("shellcheck is missing: install the test extra (pip install -e '.[test]')")
    done = subprocess.run([SHELLCHECK, str(path)], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def stubs(tmp_path):
    """A bin directory with sbatch, qsub and srun stubs, and the directory they log to."""
    bin_dir, log = tmp_path / "stub-bin", tmp_path / "stub-log"
    bin_dir.mkdir()
    log.mkdir()
    for name, text in (("sbatch", STUB_SUBMIT.format(name="sbatch",
                                                     answer="Submitted batch job 4242")),
                       ("qsub", STUB_SUBMIT.format(name="qsub", answer="4242.pbs-server")),
                       ("srun", STUB_SRUN)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{Path(mpirun_path()).parent}{os.pathsep}"
                   f"{os.environ['PATH']}",
           "STUB_LOG": str(log), "MPIRUN": mpirun_path()}
    return env, log


def submit(job_dir: Path, env: dict, *args) -> subprocess.CompletedProcess:
    full = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-m", "mpicg", "submit", "job.toml", *args],
                          cwd=job_dir, capture_output=True, text=True, env=full,
                          timeout=60, check=False)


@pytest.mark.parametrize("name", ["launch/mpirun.sh", "launch/slurm.sh", "launch/pbs.sh",
                                  ".ci/run", ".ci/slurm/start.sh", ".ci/slurm/stop.sh",
                                  "benchmarks/many_cores.sh"])
def test_launch_scripts_pass_shellcheck(name):
    shellcheck(ROOT / name)


def test_the_launch_templates_are_the_packaged_ones():
    for name in ("slurm.sh", "pbs.sh"):
        assert (ROOT / "launch" / name).resolve() == ROOT / "mpicg" / "batch" / name


@pytest.mark.parametrize("scheduler", ["slurm", "pbs"])
def test_submit_writes_the_script_and_calls_the_scheduler(tmp_path, stubs, scheduler):
    env, log = stubs
    write_demo_job(tmp_path, n_times=50)
    done = submit(tmp_path, env, "--scheduler", scheduler, "-n", "48", "--time", "36:30:00",
                  "--name", "eb-fit")
    assert done.returncode == 0, done.stderr
    command = "sbatch" if scheduler == "slurm" else "qsub"
    assert "4242" in done.stdout
    script = tmp_path / f"submit.{scheduler}"
    assert (log / f"{command}.calls").read_text().split() == [str(script)]
    text = (log / f"{command}.script").read_text()
    assert text == script.read_text()
    shellcheck(script)
    assert f"JOB={tmp_path / 'job.toml'}\n" in text
    assert f"SCRIPT={script.resolve()}\n" in text
    assert f"PYTHON={sys.executable}\n" in text
    assert '"$PYTHON" -m mpicg fit "$JOB" --resume-if-stopped' in text
    if scheduler == "slurm":
        for line in ("#SBATCH --job-name=eb-fit", "#SBATCH --ntasks=48",
                     "#SBATCH --time=36:30:00", "#SBATCH --signal=B:USR1@120",
                     f"#SBATCH --output={tmp_path}/slurm-%j.log"):
            assert line + "\n" in text
        # This Python's MPI is the pip mpich wheel: srun must start it through PMI2.
        assert "SRUN=(srun --mpi=pmi2)\n" in text
        assert re.search(r'^"\$\{SRUN\[@\]\}" "\$PYTHON" -m mpicg fit', text, re.MULTILINE)
    else:
        for line in ("#PBS -N eb-fit", "#PBS -l select=1:ncpus=48:mpiprocs=48",
                     "#PBS -l walltime=36:30:00", "NRANKS=48", "WALLTIME=36:30:00"):
            assert line + "\n" in text
        assert "timeout --preserve-status --signal=USR1" in text


def test_submit_without_the_scheduler_only_writes(tmp_path):
    write_demo_job(tmp_path, n_times=50)
    env = {"PATH": str(Path(sys.executable).parent) + os.pathsep + "/usr/bin:/bin"}
    if shutil.which("sbatch", path=env["PATH"]):
        pytest.skip("this machine has a real sbatch")
    done = submit(tmp_path, env, "--scheduler", "slurm")
    assert done.returncode == 0
    assert f"sbatch is not on the PATH); submit it with: sbatch {tmp_path}" in done.stdout
    assert (tmp_path / "submit.slurm").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--time", "3 days"], "--time must be HH:MM:SS"),
    (["--name", "a b"], "--name must be letters"),
    (["--max-resubmits", "-1"], "argument --max-resubmits: must be at least 0; got -1"),
])
def test_submit_rejects_bad_options(tmp_path, args, message):
    write_demo_job(tmp_path, n_times=50)
    done = submit(tmp_path, {}, "--scheduler", "slurm", "--dry-run", *args)
    assert done.returncode == 2
    assert message in done.stderr


def test_submit_names_the_job_after_a_job_file_with_spaces_and_accents(tmp_path):
    write_demo_job(tmp_path, n_times=50)
    (tmp_path / "job.toml").rename(tmp_path / "jöb 1.toml")
    done = subprocess.run([sys.executable, "-m", "mpicg", "submit", "jöb 1.toml",
                           "--scheduler", "slurm", "--dry-run"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    script = next(tmp_path.glob("*.slurm")).read_text()
    assert "#SBATCH --job-name=j_b_1\n" in script


def test_slurm_script_stops_on_usr1_resubmits_and_resumes_to_the_same_bits(
        reference, tmp_path, stubs):
    env, log = stubs
    work = copy_job(reference, tmp_path / "job")
    assert submit(work, env, "--scheduler", "slurm", "--dry-run").returncode == 0
    script = work / "submit.slurm"
    batch_env = dict(env, SLURM_JOB_ID="777", SLURM_SUBMIT_DIR=str(work))
    proc = start(["bash", str(script)], cwd=work, env=batch_env)
    wait_for_rows(work / "history.partial.csv", 20, proc)  # the running fit's
    proc.send_signal(signal.SIGUSR1)  # what --signal=B:USR1@120 sends: the batch shell only
    out = finish(proc)
    assert proc.returncode == 75, out[-3000:]
    assert "resubmitting (1 of 10)" in out
    calls = (log / "sbatch.calls").read_text().split()
    assert calls == ["--dependency=afterany:777", "--export=ALL,MPICG_RESUBMITS=1",
                     str(script.resolve())]
    assert not (work / "solution.json").exists()
    stopped_at = load_checkpoint(work / "progress.json").state.k
    assert stopped_at >= 19

    # The resubmitted job: the same script, which resumes.
    proc = start(["bash", str(script)], cwd=work, env=dict(batch_env, MPICG_RESUBMITS="1"))
    out = finish(proc)
    assert proc.returncode == 0, out[-3000:]
    assert "resuming from" in out
    assert bits(work) == bits(reference)
    assert len((log / "sbatch.calls").read_text().splitlines()) == 1  # no more resubmission


def test_slurm_script_gives_up_after_max_resubmits(tmp_path, stubs):
    env, log = stubs
    write_demo_job(tmp_path, n_times=50)
    assert submit(tmp_path, env, "--scheduler", "slurm", "--dry-run",
                  "--max-resubmits", "2").returncode == 0
    # An srun whose fit is always stopped: the script must not resubmit a third time.
    (Path(env["PATH"].split(os.pathsep)[0]) / "srun").write_text("#!/bin/bash\nexit 75\n")
    done = subprocess.run(["bash", str(tmp_path / "submit.slurm")], cwd=tmp_path,
                          env=dict(os.environ, **env, MPICG_RESUBMITS="2"),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 75
    assert "resubmitted 2 times already" in done.stderr
    assert not (log / "sbatch.calls").exists()


def test_pbs_script_stops_before_the_wall_time_and_resubmits(tmp_path, stubs):
    env, log = stubs
    # Slow enough that the fit is still running when the script's timeout fires: some 35
    # iterations of about 18 calls shared by 2 ranks, 0.08 s each: some 25 s.
    write_slow_demo_job(tmp_path, n_times=300, delay=0.08)
    # Wall time 5 min 15 s less the 300 s margin: USR1 after 15 s.
    assert submit(tmp_path, env, "--scheduler", "pbs", "--dry-run", "-n", "2",
                  "--time", "00:05:15").returncode == 0
    script = tmp_path / "submit.pbs"
    proc = start(["bash", str(script)], cwd=tmp_path,
                 env=dict(env, PBS_JOBID="55.server", PBS_O_WORKDIR=str(tmp_path)))
    out = finish(proc)
    assert proc.returncode == 75, out[-3000:]
    calls = (log / "qsub.calls").read_text().split()
    assert calls == ["-W", "depend=afterany:55.server", "-v", "MPICG_RESUBMITS=1",
                     str(script.resolve())]
    # The signal comes at the end of an iteration (the usual case), or, on a machine so
    # loaded that the ranks still read their data after 15 s, before the fit began: then
    # nothing was written and the resubmitted job starts the fit (both exit with 75).
    began = "stopped by SIGUSR1 before the fit began" not in out
    if began:
        assert "stopped by SIGUSR1 after writing" in out, out[-3000:]
        stopped_at = load_checkpoint(tmp_path / "progress.json").state.k
        assert stopped_at >= 1
    else:
        assert not (tmp_path / "progress.json").exists()
    # What the resubmitted job runs continues from there (checked to the end in the SLURM
    # test; here: it accepts the file and finishes).
    done = mpicg("fit", "job.toml", "--resume-if-stopped", cwd=tmp_path, timeout=300)
    status = json.loads((tmp_path / "solution.json").read_text())["status"]
    assert done.returncode == (0 if status == 0 else 4), done.stdout[-2000:] + done.stderr
    if began:
        assert "resuming from" in done.stdout
        assert f"iter {stopped_at + 1:4d}" in done.stdout
    else:
        assert "starting;" in done.stdout
