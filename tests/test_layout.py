"""The layers stay layers: who may import what, and a package that works without MPI.

- mpi4py is imported under ``mpicg/parallel/`` only;
- ``mpicg/optimize/`` imports numpy, the standard library and itself only;
- ``import mpicg`` and a serial fit work where mpi4py cannot be imported at all;
- the top level stays small (at most 8 modules).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mpicg"
MODULES = sorted(PACKAGE.rglob("*.py"))


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module ``path`` imports, absolute (relative imports resolved), with its line."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            found.append((name, node.lineno))
    return found


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_scan_sees_relative_and_absolute_imports():
    imports = dict(_imports(PACKAGE / "parallel" / "mpi.py"))
    assert "mpicg.errors" in imports
    assert "mpicg.parallel.base" in imports
    assert "mpi4py" in imports


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_mpi4py_only_under_parallel(path):
    if _inside(".".join(path.relative_to(PACKAGE.parent).parts[:2]), "mpicg.parallel"):
        return
    offending = [(name, line) for name, line in _imports(path) if _inside(name, "mpi4py")]
    assert not offending, f"{path} imports mpi4py (only mpicg/parallel/ may): {offending}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "optimize").glob("*.py")),
                         ids=lambda p: p.name)
def test_optimize_imports_numpy_stdlib_and_itself_only(path):
    allowed = set(sys.stdlib_module_names) | {"numpy"}
    offending = [(name, line) for name, line in _imports(path)
                 if not _inside(name, "mpicg.optimize")
                 and name.partition(".")[0] not in allowed]
    assert not offending, f"{path} imports {offending}; the optimizer may import numpy, " \
                          "the standard library and mpicg.optimize only"


def test_the_top_level_holds_at_most_eight_modules():
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= 8, modules


def test_import_and_serial_fits_work_without_mpi4py():
    # A finder that refuses mpi4py, as on a machine where it is missing or broken.
    script = textwrap.dedent("""\
        import sys

        class NoMPI:
            def find_spec(self, name, path=None, target=None):
                if name == "mpi4py" or name.startswith("mpi4py."):
                    raise ImportError("mpi4py is hidden by the test")

        sys.meta_path.insert(0, NoMPI())
        import numpy as np
        import mpicg
        from mpicg.models import TransitModel

        x = mpicg.fmin_cg(lambda v: ((v - 3.0) ** 2).sum(), np.zeros(2), disp=False)
        assert np.allclose(x, 3.0, atol=1e-5), x
        times = np.linspace(0.0, 3.0, 200)
        model = TransitModel(period=3.0, resolution=6)
        flux = model(np.array(list(model.defaults.values())), times)
        sol = mpicg.optimizer_cg(model, times, flux, np.full(times.size, 1e-3),
                                 fit_parameters=["rp"], initial_values={"rp": 0.09},
                                 gtol=1e-3)
        assert abs(sol.fitted_values["rp"] - model.defaults["rp"]) < 1e-4, sol.summary()
        assert "mpi4py" not in sys.modules
        print("OK", sol.n_ranks)
    """)
    env = {k: v for k, v in __import__("os").environ.items()
           if not k.startswith(("PMI_", "OMPI_", "PMIX_", "MV2_", "SLURM_"))}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, env=env, cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK 1" in done.stdout
