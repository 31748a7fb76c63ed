"""The ``mpicg`` command and what it reads and writes.

:mod:`.main` (the command line), :mod:`.fit` (``fit`` and ``resume`` of a job),
:mod:`.jobfile` (TOML job files), :mod:`.datafile` (light-curve files), :mod:`.history`
(per-iteration history), :mod:`.report` (text and plots), :mod:`.submit` (batch scripts),
:mod:`.detach` (``--detach`` and ``attach``), :mod:`.demo` (the synthetic demo).
"""

from .main import main

__all__ = ["main"]
