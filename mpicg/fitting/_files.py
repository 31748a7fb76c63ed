"""Writing files that a crash must never leave half-written (progress files, solutions)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["write_atomically"]

# The process's umask, read once (reading it means setting it): mkstemp creates files 0600,
# and a result file should get the permissions any other new file gets.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def write_atomically(path: str | os.PathLike, text: str) -> Path:
    """Replace ``path`` by ``text``: temporary file, fsync, rename, fsync the folder.

    A reader (or a job killed at any moment) sees either the old file or the new one,
    never a mix; after return the new content survives a crash of the machine. When the
    write fails (a full disk, a folder that became read-only) the temporary file is
    removed, the old file is untouched, and the ``OSError`` is raised.
    """
    path = Path(path)
    # A unique name: two writers (threads, or processes on two hosts sharing the folder)
    # never write into one temporary file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # Make the rename itself durable; some filesystems cannot fsync a directory, and the
    # rename has happened anyway.
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path
