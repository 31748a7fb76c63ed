"""The ``mpicg`` command and what it reads and writes.

:mod:`.main` (the command line), :mod:`.fit` (``fit`` and ``resume`` of a job),
:mod:`.jobfile` (TOML job files), :mod:`.datafile` (light-curve files), :mod:`.history`
(per-iteration history), :mod:`.report` (text and plots), :mod:`.submit` (batch scripts),
:mod:`.detach` (``--detach``, ``attach``, ``stop``), :mod:`.supervise` (a detached fit's
supervisor), :mod:`.output` (the output directory: lock, staging), :mod:`.demo` (the
synthetic demo).
"""

from .main import main

__all__ = ["main"]
