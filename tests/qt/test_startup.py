"""Showing the main window does not import torch (it is loaded in the background afterwards)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_showing_the_main_window_does_not_import_torch(tmp_path) -> None:
    env = {**os.environ, "WORKBENCH_STARTUP_PROBE": "1", "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "workbench"], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    lines = [line for line in out.stdout.splitlines() if line.startswith("WORKBENCH_WINDOW_SHOWN")]
    assert lines, out.stderr[-3000:]
    assert lines[0].endswith("torch_loaded=0"), lines[0]
