"""`torchrun --nproc_per_node=2 -m workbench train` trains with DDP (gloo on CPU); rank 0 alone writes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from workbench.core.config import save_config
from workbench.core.runs import RunStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_processes(tiny_project, tmp_path: Path) -> None:
    tiny_project.training.epochs = 4
    project = tmp_path / "project.toml"
    save_config(tiny_project, project)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
         f"--master_port={_free_port()}", "-m", "workbench", "train", str(project)],
        capture_output=True, text=True, timeout=420, env=env, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = RunStore(tiny_project.runs_dir).list_runs()
    assert len(runs) == 1, "only rank 0 creates a run"
    run_dir = Path(runs[0].run_dir)
    status = json.loads((run_dir / "run.json").read_text())
    assert status["status"] == "completed" and status["world_size"] == 2
    history = status["history"]
    assert len(history) == 4 and history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["accuracy"] >= 0.6, history[-1]
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 4, "metrics are written once, not per rank"
    assert done.stdout.count("Run folder:") == 1
    # batch_size is per process, and the run says what a step really takes (issue 18, item 6).
    assert "global batch 32 (16 per process × 2 processes)" in done.stderr, done.stderr[-2000:]
