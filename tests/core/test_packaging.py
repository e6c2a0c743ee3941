"""The PyInstaller spec names only modules and files that exist (nothing is built here)."""

from __future__ import annotations

import ast
import configparser
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "packaging" / "workbench.spec"


def _list_literal(name: str) -> list:
    tree = ast.parse(SPEC.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return node.value.elts
    raise AssertionError(f"{name} not found in the spec")


def test_hidden_imports_exist() -> None:
    names = [e.value for e in _list_literal("HIDDEN_IMPORTS") if isinstance(e, ast.Constant)]
    assert names
    missing = [n for n in names if importlib.util.find_spec(n) is None]
    assert not missing, missing


def test_data_files_and_icons_exist() -> None:
    assert (ROOT / "resources").is_dir()
    for icon in ("workbench.ico", "workbench.icns", "workbench-256.png"):
        assert (ROOT / "resources" / "icons" / icon).exists(), icon
    assert (ROOT / "packaging" / "launcher.py").exists()
    from sklearn.datasets import load_digits

    assert load_digits().images.shape == (1797, 8, 8), "the demo's data ships inside scikit-learn"


def test_desktop_entry_is_valid() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(ROOT / "packaging" / "workbench.desktop")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application" and section["Exec"].startswith("workbench")
    assert section["Icon"] == "workbench"
    sizes = sorted(int(p.stem.split("-")[1]) for p in (ROOT / "resources" / "icons").glob("workbench-*.png"))
    assert {16, 32, 48, 128, 256, 512} <= set(sizes)
