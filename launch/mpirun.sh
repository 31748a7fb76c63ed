#!/usr/bin/env bash
# Run an mpicg job with plain mpirun on one machine.
#
#   launch/mpirun.sh                      # the demo on every core
#   NRANKS=8 launch/mpirun.sh python fit.py
#
# Edit or set: NRANKS (default: all cores). One rank per core; numpy's own threads are
# pinned to one so they do not compete with the ranks.
set -euo pipefail
NRANKS=${NRANKS:-$(nproc)}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# Keep glibc from giving a numpy model's large temporaries back to the OS after every call
# (and faulting them in again on the next): 30-50 % of a model call, measured here.
export MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-16777216}
export MALLOC_TRIM_THRESHOLD_=${MALLOC_TRIM_THRESHOLD_:-67108864}
if [ "$#" -eq 0 ]; then
    set -- mpicg demo
fi
exec mpirun -n "$NRANKS" "$@"
