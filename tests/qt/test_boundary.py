"""The GUI/engine boundary: panes never import torch, and the engine's config never imports Qt."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QT_DIR = ROOT / "workbench" / "qt"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((QT_DIR / "panes").glob("*.py")) + sorted((QT_DIR / "widgets").glob("*.py")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_panes_and_widgets_do_not_import_torch(path: Path) -> None:
    torch_imports = {m for m in imported_modules(path) if m == "torch" or m.startswith("torch.")}
    assert not torch_imports, f"{path.relative_to(ROOT)} imports {sorted(torch_imports)}"


def test_no_gui_module_imports_torch_directly() -> None:
    offenders = {p.name: m for p in QT_DIR.rglob("*.py") for m in imported_modules(p)
                 if m == "torch" or m.startswith("torch.")}
    assert not offenders


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_engine_config_does_not_import_qt() -> None:
    out = _run("import sys, workbench.core.config; print(sorted(m for m in sys.modules if m.startswith('PySide6')))")
    assert out == "[]"


def test_opening_the_gui_modules_does_not_import_torch() -> None:
    out = _run("import sys, workbench.qt.app; print('torch' in sys.modules)")
    assert out == "False"
