#!/bin/bash
# mpicg on PBS Pro or Torque: fit a job file, stop cleanly before the wall time, resubmit,
# and resume.
#
#   qsub launch/pbs.sh              after editing the #PBS lines and the settings below, or
#   mpicg submit job.toml --scheduler pbs -n 64 --time 24:00:00
#                                   which writes a copy with them filled in and submits it.
#
# PBS has no early-warning signal, and at the wall time it kills within seconds. So the fit
# runs under `timeout`, which sends USR1 to mpirun MARGIN seconds before the wall time;
# mpirun forwards it to every rank. Rank 0 writes the progress file at the end of the current
# iteration and every rank exits with 75; the script then resubmits itself, and the next run
# continues from the progress file, to the same bits as an uninterrupted fit.
#
# Edit: ranks and time (here and in the settings), and what your site requires (queue,
# account, modules). Over several nodes ask for chunks, e.g. 4 nodes of 32 cores:
# "#PBS -l select=4:ncpus=32:mpiprocs=32". Torque spells it "#PBS -l nodes=4:ppn=32".
#PBS -N mpicg
#PBS -l select=1:ncpus=64:mpiprocs=64
#PBS -l walltime=24:00:00
#PBS -j oe
## #PBS -q ...
## #PBS -A ...

# ---- settings ------------------------------------------------------------------------------
# The job file (relative to the directory you submit from, or absolute).
JOB=job.toml
# This script, to resubmit itself.
SCRIPT=launch/pbs.sh
# The Python that has mpicg, with mpi4py built against this cluster's MPI (no mpich wheel).
PYTHON=python3
# MPI ranks (as requested above) and the MPI launcher of the MPI that mpi4py was built with.
NRANKS=64
MPIRUN=mpirun
# The wall time requested above (HH:MM:SS), and how long before it to stop, in seconds
# (longer than one iteration of your fit takes).
WALLTIME=24:00:00
MARGIN=300
# How many times to resubmit after the wall time, at most.
MAX_RESUBMITS=10
# ---------------------------------------------------------------------------------------------

set -uo pipefail
# module load python openmpi    # your site's modules, if any
# One thread per rank: numpy's BLAS threads would compete with the ranks for the cores.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# Keep glibc from returning a model's large temporaries to the OS after every call.
export MALLOC_MMAP_THRESHOLD_=16777216 MALLOC_TRIM_THRESHOLD_=67108864
cd "${PBS_O_WORKDIR:-.}" || exit 1
resubmits=${MPICG_RESUBMITS:-0}

IFS=: read -r hours minutes seconds <<< "$WALLTIME"
limit=$((10#$hours * 3600 + 10#$minutes * 60 + 10#$seconds - MARGIN))
if [ "$limit" -le 0 ]; then
    echo "mpicg: MARGIN ($MARGIN s) must be shorter than WALLTIME ($WALLTIME)" >&2
    exit 2
fi
timeout --preserve-status --signal=USR1 "$limit" \
    "$MPIRUN" -n "$NRANKS" "$PYTHON" -m mpicg fit "$JOB" --resume-if-stopped
status=$?

if [ "$status" -eq 75 ]; then
    if [ "$resubmits" -lt "$MAX_RESUBMITS" ]; then
        echo "mpicg: stopped before the wall time; resubmitting ($((resubmits + 1)) of $MAX_RESUBMITS)"
        qsub -W "depend=afterany:${PBS_JOBID:-0}" \
            -v "MPICG_RESUBMITS=$((resubmits + 1))" "$SCRIPT"
    else
        echo "mpicg: stopped, and resubmitted $MAX_RESUBMITS times already;" \
            "continue with: mpicg resume OUTPUT_DIR/progress.json" >&2
    fi
fi
exit "$status"
