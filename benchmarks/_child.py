"""One benchmark job in a child process, and the result it printed (shared by the scripts).

Each benchmark runs its measured fits as fresh jobs (``python`` or ``mpirun -n N``) whose
rank 0 prints one line ``RESULT {json}``.
"""

from __future__ import annotations

import json
import subprocess


def result_of(cmd: list[str], env: dict, timeout: float, cwd=None, tail: int = 2000) -> dict:
    """Run ``cmd`` and return its ``RESULT`` line's JSON.

    Raises
    ------
    RuntimeError
        When the job printed no result: the command and the last ``tail`` characters of its
        output and errors.
    """
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd,
                         timeout=timeout)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout[-tail:]}\n{out.stderr[-tail:]}")
