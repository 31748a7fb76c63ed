"""The supervisor of a detached fit: run it, pass signals on to it, record how it ended.

``python -m mpicg.cli.supervise RUN STATUS_FILE COMMAND...`` is what ``mpicg fit --detach``
starts in its own session. It runs ``COMMAND`` (``mpirun ... mpicg fit JOB.toml``), passes
SIGTERM, SIGINT, SIGUSR1 and SIGHUP on to it (``mpirun`` passes them to every rank, and the
fit stops cleanly with a progress file), and when the command ends writes
``{"run": RUN, "code": exit code}`` to ``STATUS_FILE`` atomically, which ``mpicg attach``
reads. Its process id is the one ``--detach`` prints, so ``kill ID`` stops the fit cleanly.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from ..errors import EXIT_INPUT
from ..fitting._files import write_atomically

__all__ = ["FORWARDED", "supervise"]

#: The signals passed on to the fit.
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGHUP)


def supervise(run: str, status_file: str, command: list[str]) -> int:
    """Run ``command``, pass :data:`FORWARDED` signals on to it, record its exit code.

    Returns
    -------
    int
        The command's exit code (128 + N when a signal N ended it, as a shell says).
    """
    child = subprocess.Popen(command)

    def forward(signum, frame) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    for s in FORWARDED:
        signal.signal(s, forward)
    code = child.wait()
    code = code if code >= 0 else 128 - code
    write_atomically(status_file, json.dumps({"run": run, "code": code}) + "\n")
    return code


if __name__ == "__main__":
    if len(sys.argv) < 4:
        print("usage: python -m mpicg.cli.supervise RUN STATUS_FILE COMMAND...",
              file=sys.stderr)
        sys.exit(EXIT_INPUT)
    sys.exit(supervise(sys.argv[1], sys.argv[2], sys.argv[3:]))
