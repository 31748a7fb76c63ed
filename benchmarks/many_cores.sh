#!/usr/bin/env bash
# The benchmarks on a machine with many cores, in one go (README's "On 16 cores").
#
#   bash benchmarks/many_cores.sh [LOG_DIR]
#
# Runs, each under a time limit so that one stuck step cannot take the others' time:
#   1. the slept-cost simulation (flat model to 64 ranks, old and new sharing, or only those
#      in FLAT_SHARINGS; eclipse and fixed-cost models at 16, new sharing);
#   2. the per-round overhead of a near-free model at 1, 2, 4 and 16 ranks;
#   3. the compute-bound scaling run (mpicg at 1-16 ranks; `python` against `mpirun -n 1`);
#   4. round timelines (where a round's time goes) of the flat model at 32 ranks, of the
#      fixed-cost model at 16 and of the compute-bound transit fit at 16.
# Each step's full output goes to LOG_DIR (default: many-cores-logs); the terminal gets it too.
# PYTHON names the interpreter (default python3); it must have numpy, mpi4py and an MPI.
set -u
log_dir=${1:-many-cores-logs}
mkdir -p "$log_dir"
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
here=$(cd "$(dirname "$0")" && pwd)

{
    echo "date: $(date -u)"
    echo "cores (nproc): $(nproc); os.cpu_count(): $("$py" -c 'import os; print(os.cpu_count())')"
    lscpu 2>/dev/null | grep -E "Model name|^CPU\(s\)|Thread|Core|Socket|MHz" || true
    echo "cgroup cpu.max: $(cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo none)"
    echo "load: $(cat /proc/loadavg)"
    df -h /dev/shm 2>/dev/null | tail -1
    "$py" -c 'import mpi4py, numpy, sys; from mpi4py import MPI; print("python", sys.version.split()[0], "numpy", numpy.__version__, "mpi4py", mpi4py.__version__, MPI.Get_library_version().splitlines()[0])'
} 2>&1 | tee "$log_dir/machine.log"

step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    echo "=== $name: $* (limit ${limit} s)"
    local t0=$SECONDS
    timeout --signal=TERM --kill-after=10 "$limit" "$@" 2>&1 | tee "$log_dir/$name.log"
    echo "=== $name: exit ${PIPESTATUS[0]} after $((SECONDS - t0)) s"
}

step simulation_flat 150 "$py" "$here/simulation.py" --kinds flat --ranks 1,16,32,64 \
    --sharings "${FLAT_SHARINGS:-blocks,auto}" --maxiter 20 --repeats 3
step simulation_eclipse_fixed 200 "$py" "$here/simulation.py" --kinds eclipse,fixed \
    --ranks 1,16 --sharings auto --maxiter 20 --repeats 3
step round_overhead 90 "$py" "$here/round_overhead.py" --ranks 1,2,4,16 --repeats 5
step scaling 150 "$py" "$here/scaling.py" --only mpicg --ranks 1,2,4,8,16 --repeats 3
step timeline_flat_32 60 "$py" "$here/round_timeline.py" --kind flat --ranks 32
step timeline_fixed_16 45 "$py" "$here/round_timeline.py" --kind fixed --ranks 16 --rounds
step timeline_transit_16 60 "$py" "$here/round_timeline.py" --kind transit --ranks 16
