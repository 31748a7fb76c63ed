"""glibc's malloc thresholds, set from the library when a fit starts.

A numpy model allocates temporaries of a few hundred kB to a few MB in every call. By default
glibc serves such blocks with ``mmap`` and gives them back to the OS on ``free`` (its
threshold adapts only up to a point), so every call faults its memory in again: 30-50 % of a
call for the built-in models, measured here. ``launch/mpirun.sh`` sets
``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_``; :func:`tune_malloc` makes the same
settings with ``mallopt`` (mallopt(3)) so that ``python fit.py`` runs as fast. Values the user
set in the environment are left alone; where the C library is not glibc it does nothing.
Results do not depend on it (the same bits either way).
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "tune_malloc"]

#: Blocks up to 16 MiB come from the heap (reused), not from mmap (faulted in every time).
MMAP_THRESHOLD = 16 * 1024 * 1024
#: Free memory at the top of the heap is given back only beyond 64 MiB.
TRIM_THRESHOLD = 64 * 1024 * 1024

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # <malloc.h>
_done: list[bool] = []


def tune_malloc() -> bool:
    """Set glibc's mmap and trim thresholds for this process, once.

    Returns
    -------
    bool
        True when glibc took the settings (or the environment already had them); False
        where there is no glibc.
    """
    if _done:
        return _done[0]
    ok = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None)
            libc.gnu_get_libc_version  # noqa: B018 -- present in glibc only
            mallopt = libc.mallopt
        except (OSError, AttributeError):
            mallopt = None
        if mallopt is not None:
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            ok = True
            for variable, option, value in (
                    ("MALLOC_MMAP_THRESHOLD_", _M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                    ("MALLOC_TRIM_THRESHOLD_", _M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
                if variable not in os.environ:
                    ok = mallopt(option, value) == 1 and ok
    _done.append(ok)
    return ok
