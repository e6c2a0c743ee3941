"""The engine stays Qt-free: no module under workbench/core imports Qt, and importing it never loads Qt."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "workbench" / "core"
QT_MODULES = ("PySide6", "pyqtgraph", "qtpy", "PyQt5", "PyQt6")


def _imports(tree: ast.Module) -> list[str]:
    """Every module named by an import statement anywhere in the file, lazy imports included."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_no_core_module_imports_qt() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        rel = path.relative_to(CORE).as_posix()
        names = _imports(ast.parse(path.read_text(encoding="utf-8")))
        offenders += [f"{rel}: {name}" for name in names if name.split(".")[0] in QT_MODULES or name.startswith("workbench.qt")]
    assert not offenders, offenders


def test_importing_the_engine_loads_no_qt() -> None:
    modules = sorted(
        "workbench.core." + p.relative_to(CORE).with_suffix("").as_posix().replace("/", ".").removesuffix(".__init__")
        for p in CORE.rglob("*.py")
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_config_import_is_light() -> None:
    code = "import sys, workbench.core.config; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", "the config must not pull in torch (GUI start-up time)"
