"""The window's warm-up imports what a run imports as it starts. A module first imported on the training thread is
compiled there when it has no .pyc yet (a fresh install, or PYTHONDONTWRITEBYTECODE), and compiling holds the GIL
for tens of milliseconds: the window stalled at the start of every first run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import json, sys, tempfile
from pathlib import Path
from workbench.core.demo import demo_config, write_digits_dataset
from workbench.qt.doctor import register_monitors
from workbench.qt.jobs import warm_up
work = Path(tempfile.mkdtemp())
config = demo_config(write_digits_dataset(work / "digits"), work / "runs")
config.training.epochs, config.preprocessing.image_size = 1, 8
config.diagnostics.shortcut_check = config.diagnostics.label_check = False  # end-of-run helpers: not at the start
register_monitors()
warm_up()
before = set(sys.modules)
from workbench.core.host import set_interactive_host
from workbench.core.training.engine import train
set_interactive_host(True)
result = train(config)
print(json.dumps({"status": result.status,
                  "new": sorted(m for m in set(sys.modules) - before if m.startswith("workbench"))}))
"""


def test_a_run_after_the_warm_up_imports_no_workbench_module(tmp_path: Path) -> None:
    env = dict(os.environ, WORKBENCH_CACHE_DIR=str(tmp_path / "cache"), QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["status"] == "completed"
    assert report["new"] == []
