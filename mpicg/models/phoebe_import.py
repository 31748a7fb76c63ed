"""Importing PHOEBE inside an MPI job that mpicg owns: serial on every rank, offline.

mpicg owns MPI: every rank runs PHOEBE serially on its own chunk of the times. PHOEBE must
therefore never use MPI itself. PHOEBE decides when it is first imported
(``phoebe/__init__.py``, class ``MPI``): if ``OMPI_COMM_WORLD_SIZE``, ``MV2_COMM_WORLD_SIZE``
or ``PMI_SIZE`` is in the environment it considers itself "within mpirun", imports mpi4py,
raises ``ImportError("need more than 1 processor ...")`` when the size is 1, and, unless
``PHOEBE_ENABLE_MPI=FALSE``, parks every rank but 0 in a worker loop inside ``import phoebe``
(waiting for broadcasts from rank 0's ``run_compute``), which would deadlock against mpicg's
own collectives. :func:`import_phoebe` (used by mpicg for every import of PHOEBE)
therefore

* sets ``PHOEBE_ENABLE_MPI=FALSE`` (PHOEBE's documented switch, also set when this module is
  imported, so that a factory module doing a plain ``import phoebe`` later, e.g. while a
  rank unpickles the model, does not start the worker loop),
* hides those three launcher variables during the import only, so PHOEBE sees a serial
  process (``phoebe.mpi.mode == 'serial mode'``) on every rank, for any number of ranks, 1
  included, and
* if PHOEBE was already imported with its MPI on, calls ``phoebe.mpi_off()`` (on rank 0 this
  releases PHOEBE's waiting workers, as PHOEBE documents) and clears PHOEBE's
  "within mpirun" flag, so that its exit hook does not broadcast a shutdown message into
  mpicg's job.

It also sets ``PHOEBE_ENABLE_ONLINE_PASSBANDS=FALSE`` unless the user set it, so that the
import does not try to reach PHOEBE's passband server (impossible on most compute nodes).
Offline, PHOEBE 2.5 ships the ``Johnson:V`` and ``Bolometric:900-40000`` passbands but no
atmosphere tables: use ``atm='blackbody'`` and ``ld_mode='manual'``, as
:func:`.phoebe_adapter.blackbody_binary` does.
"""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["import_phoebe"]

# The environment variables by which PHOEBE 2.5 decides it runs "within mpirun".
_PHOEBE_LAUNCHER_VARS = ("OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMI_SIZE")

if "phoebe" not in sys.modules:
    # Before any later plain `import phoebe` in this process (a bundle factory's module
    # imported while a rank unpickles the model, say): PHOEBE reads these once, at import.
    # With its MPI on, ranks other than 0 would block inside `import phoebe` waiting for
    # PHOEBE's own broadcasts while rank 0 waits in mpicg's; and every rank of a job would
    # query PHOEBE's passband server, which compute nodes usually cannot reach.
    os.environ["PHOEBE_ENABLE_MPI"] = "FALSE"
    os.environ.setdefault("PHOEBE_ENABLE_ONLINE_PASSBANDS", "FALSE")


def _precreate_passband_dir() -> None:
    """Create the directory PHOEBE creates at import, before several ranks race to do it.

    With the launcher's variables hidden every rank believes it is a serial process and
    calls ``os.makedirs`` on the same path without ``exist_ok``; on a fresh machine all but
    one of the ranks would fail to import PHOEBE. The path mirrors
    ``phoebe/atmospheres/passbands.py``.
    """
    if hasattr(sys, "real_prefix"):
        path = os.path.join(sys.prefix, ".phoebe/atmospheres/tables/passbands/")
    else:
        path = os.path.expanduser("~/.phoebe/atmospheres/tables/passbands")
    # A read-only home and the like: leave it to PHOEBE to report.
    with contextlib.suppress(OSError):
        os.makedirs(path, exist_ok=True)


def _switch_off_phoebe_mpi(phoebe) -> None:
    """Make an already imported PHOEBE run serially in this process (see the module doc)."""
    mpi = phoebe.mpi
    if mpi.enabled:
        # On rank 0 within mpirun this broadcasts PHOEBE's 'release' to the ranks parked in
        # its worker loop; elsewhere it only clears the flag.
        phoebe.mpi_off()
    if mpi.within_mpirun:
        # PHOEBE itself clears this private flag when it stops using MPI (its
        # shutdown_workers, and around sampling in run_compute). Left set, PHOEBE's exit
        # hook on rank 0 would broadcast a 'shutdown' message that no rank receives.
        mpi._within_mpirun = False


def import_phoebe():
    """Import PHOEBE for use inside mpicg: serial on every rank, no network at import.

    Use it instead of ``import phoebe`` in bundle factories and in scripts run under
    ``mpirun``: a plain ``import phoebe`` under ``mpirun -n 1`` raises ``ImportError``, and
    with PHOEBE's MPI on it blocks ranks other than 0 (see the module documentation).

    Returns
    -------
    module
        The ``phoebe`` module, with ``phoebe.mpi.mode == 'serial mode'``.

    Raises
    ------
    ImportError
        PHOEBE is not installed (``pip install phoebe``).
    """
    phoebe = sys.modules.get("phoebe")
    if phoebe is None:
        os.environ["PHOEBE_ENABLE_MPI"] = "FALSE"
        os.environ.setdefault("PHOEBE_ENABLE_ONLINE_PASSBANDS", "FALSE")
        hidden = {name: os.environ.pop(name) for name in _PHOEBE_LAUNCHER_VARS
                  if name in os.environ}
        try:
            if hidden:
                _precreate_passband_dir()
            import phoebe
        finally:
            # mpicg (and MPI itself) still need the launcher's variables.
            os.environ.update(hidden)
    _switch_off_phoebe_mpi(phoebe)
    return phoebe
