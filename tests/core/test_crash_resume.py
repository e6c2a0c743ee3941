"""A CLI training run killed with SIGKILL mid-run resumes from its last checkpoint and ends as if uninterrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.core.config import save_config
from workbench.core.training.engine import train

TOLERANCE = 1e-3  # relative, on validation losses; CPU kernels are deterministic for a fixed thread count


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL is POSIX")
def test_sigkill_then_resume_matches_uninterrupted(tiny_project, tmp_path: Path) -> None:
    epochs = 12  # tiny epochs now take a fraction of a second: enough of them that the kill lands mid-run
    tiny_project.training.epochs = epochs
    tiny_project.model.small_cnn.width = 16
    project = tmp_path / "project.toml"
    save_config(tiny_project, project)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, "-m", "workbench", "train", str(project)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = Path(tiny_project.runs_dir)
    deadline = time.monotonic() + 240
    metrics = None
    while time.monotonic() < deadline and child.poll() is None:
        found = list(runs.glob("*/metrics.jsonl"))
        if found and len(found[0].read_text().splitlines()) >= 2:
            metrics = found[0]
            break
        time.sleep(0.02)
    assert metrics is not None, "the child never finished two epochs"
    time.sleep(0.15)  # somewhere inside a later epoch
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    run_dir = metrics.parent
    epochs_before = len(metrics.read_text().splitlines())
    assert epochs_before < epochs, "the kill came too late to test anything"

    done = subprocess.run([sys.executable, "-m", "workbench", "train", "--resume", str(run_dir)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    resumed = json.loads((run_dir / "run.json").read_text())["history"]
    assert [h["epoch"] for h in resumed] == list(range(1, epochs + 1)), "at most the epoch in progress was lost"

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the child processes
    try:
        reference = train(tiny_project)
    finally:
        torch.set_num_threads(threads)
    want = json.loads((reference.run_dir / "run.json").read_text())["history"]
    assert [h["val_loss"] for h in resumed] == pytest.approx([h["val_loss"] for h in want], rel=TOLERANCE)
