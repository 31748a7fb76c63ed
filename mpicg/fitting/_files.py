"""Writing files that a crash must never leave half-written (progress files, solutions)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(path: str | os.PathLike, text: str) -> Path:
    """Replace ``path`` by ``text``: temporary file, fsync, rename, fsync the folder.

    A reader (or a job killed at any moment) sees either the old file or the new one,
    never a mix; after return the new content survives a crash of the machine.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    # Make the rename itself durable; some filesystems cannot fsync a directory, and the
    # rename has happened anyway.
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return path
