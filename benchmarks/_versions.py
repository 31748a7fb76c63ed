"""Another version of modules of ``mpicg.parallel``, importable beside this one.

The benchmarks that compare versions (``balance_sweep.py --compare``, ``planning.py
--compare``) run an older ``layout.py``, ``slowdowns.py``, ``costs.py`` and ``balance.py``
in the same process as the current ones.
"""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_from_source(name: str, source: str, origin: str,
                       replaced: dict[str, str] | None = None) -> types.ModuleType:
    """The module ``source`` defines, registered as ``name``.

    Its relative imports go to this version's ``mpicg.parallel``, except those of the modules
    ``replaced`` names, which go to the modules given (``{"layout": "old_layout"}``: another
    version's). ``origin`` names the source in tracebacks.
    """
    for module, other in (replaced or {}).items():
        source = source.replace(f"from .{module} import", f"from {other} import")
    source = source.replace("from .", "from mpicg.parallel.")
    module = types.ModuleType(name)
    sys.modules[name] = module  # dataclasses look their module up there
    exec(compile(source, origin, "exec"), module.__dict__)  # a version the user named
    return module


def load_revision(rev: str) -> dict[str, types.ModuleType]:
    """``layout``, ``slowdowns`` and ``costs`` (when they existed) and ``balance`` of
    ``mpicg.parallel`` as they were at the git revision ``rev``, each importing the others of
    the same revision."""
    modules: dict[str, types.ModuleType] = {}
    # A module name of its own (``HEAD~1``, ``4acee69`` and ``v1.2-rc`` are not identifiers).
    prefix = "rev_" + re.sub(r"\W", "_", rev)
    for name in ("layout", "slowdowns", "costs", "balance"):
        shown = subprocess.run(["git", "-C", str(ROOT), "show",
                                f"{rev}:mpicg/parallel/{name}.py"],
                               capture_output=True, text=True)
        if shown.returncode != 0:
            # (the cost model was in balance.py until 2026-12-01, the ranks' slowdowns in
            # costs.py until later that day)
            if name in ("costs", "slowdowns"):
                continue
            raise SystemExit(f"no mpicg/parallel/{name}.py at {rev}: {shown.stderr.strip()}")
        modules[name] = module_from_source(
            f"{prefix}_{name}", shown.stdout, f"{rev}:{name}.py",
            replaced={other: f"{prefix}_{other}" for other in modules})
    return modules
