#!/bin/bash
# mpicg on SLURM: fit a job file, stop cleanly before the wall time, resubmit, and resume.
#
#   sbatch launch/slurm.sh          after editing the #SBATCH lines and the settings below, or
#   mpicg submit job.toml --scheduler slurm -n 64 --time 24:00:00
#                                   which writes a copy with them filled in and submits it.
#
# 120 s before the wall time SLURM sends USR1 to this script (B: the batch shell only); the
# trap below passes it on to srun, which forwards it to every rank. Rank 0 writes the progress
# file at the end of the current iteration and every rank exits with 75; the script then
# resubmits itself, and the next run continues from the progress file, to the same bits as an
# uninterrupted fit. Make the 120 longer than one iteration of your fit takes.
#
# Edit: ranks, time, and what your site requires (partition, account, modules).
#SBATCH --job-name=mpicg
#SBATCH --ntasks=64
#SBATCH --time=24:00:00
#SBATCH --signal=B:USR1@120
#SBATCH --output=mpicg-%j.log
#SBATCH --open-mode=append
## #SBATCH --partition=...
## #SBATCH --account=...

# ---- settings ------------------------------------------------------------------------------
# The job file (relative to the directory you submit from, or absolute).
JOB=job.toml
# This script, to resubmit itself (sbatch runs a copy whose path is not this one).
SCRIPT=launch/slurm.sh
# The Python that has mpicg, with mpi4py built against this cluster's MPI (no mpich wheel).
PYTHON=python3
# How srun starts the ranks as one MPI job: plain `srun` for an MPI built with SLURM support
# (or `srun --mpi=pmix`; `srun --mpi=list` shows what your SLURM offers); the pip `mpich`
# wheel needs `srun --mpi=pmi2`. mpicg refuses a launch whose tasks are not one MPI job.
SRUN=(srun)
# How many times to resubmit after the wall time, at most.
MAX_RESUBMITS=10
# ---------------------------------------------------------------------------------------------

set -uo pipefail
# module load python openmpi    # your site's modules, if any
# One thread per rank: numpy's BLAS threads would compete with the ranks for the cores.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# Keep glibc from returning a model's large temporaries to the OS after every call.
export MALLOC_MMAP_THRESHOLD_=16777216 MALLOC_TRIM_THRESHOLD_=67108864
cd "${SLURM_SUBMIT_DIR:-.}" || exit 1
resubmits=${MPICG_RESUBMITS:-0}

"${SRUN[@]}" "$PYTHON" -m mpicg fit "$JOB" --resume-if-stopped &
step=$!
trap 'kill -USR1 "$step" 2>/dev/null' USR1
trap 'kill -TERM "$step" 2>/dev/null' TERM
# A trapped signal ends `wait` early; wait until srun is gone, then collect its exit status.
while kill -0 "$step" 2>/dev/null; do
    wait "$step"
done
wait "$step"
status=$?

if [ "$status" -eq 75 ]; then
    if [ "$resubmits" -lt "$MAX_RESUBMITS" ]; then
        echo "mpicg: stopped before the wall time; resubmitting ($((resubmits + 1)) of $MAX_RESUBMITS)"
        sbatch --dependency="afterany:${SLURM_JOB_ID:-0}" \
            --export="ALL,MPICG_RESUBMITS=$((resubmits + 1))" "$SCRIPT"
    else
        echo "mpicg: stopped, and resubmitted $MAX_RESUBMITS times already;" \
            "continue with: mpicg resume OUTPUT_DIR/progress.json" >&2
    fi
fi
exit "$status"
