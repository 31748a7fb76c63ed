"""Another version of a module of ``mpicg.parallel``, importable beside this one.

The benchmarks that compare versions (``balance_sweep.py --compare``, ``planning.py
--compare``) run an older ``balance.py`` or ``layout.py`` in the same process as the current
one.
"""

from __future__ import annotations

import sys
import types


def module_from_source(name: str, source: str, origin: str,
                       layout_module: str = "mpicg.parallel.layout") -> types.ModuleType:
    """The module ``source`` defines, registered as ``name``.

    Its relative imports go to this version's ``mpicg.parallel``, except those of ``.layout``,
    which go to ``layout_module`` (another version's layout, say). ``origin`` names the source
    in tracebacks.
    """
    source = source.replace("from .layout import", f"from {layout_module} import")
    source = source.replace("from .", "from mpicg.parallel.")
    module = types.ModuleType(name)
    sys.modules[name] = module  # dataclasses look their module up there
    exec(compile(source, origin, "exec"), module.__dict__)  # a version the user named
    return module
