"""SIGTERM and SIGINT stop a CLI run cleanly: a checkpoint is saved, the run is marked stopped, and it resumes."""

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
from workbench.core.runs import RunStore

ROOT = Path(__file__).resolve().parents[2]


def _check_stopped(runs: Path, run_dir: Path) -> None:
    status = json.loads((run_dir / "run.json").read_text())
    assert status["status"] == "stopped" and 1 <= status["epochs_run"] < 500
    assert (run_dir / "checkpoints" / "last.pt").exists()
    record = RunStore(runs).get(run_dir.name)
    assert record is not None and record.status == "stopped"


def _first_epoch_log(runs: Path, timeout: float = 120) -> Path | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = list(runs.glob("2*/metrics.jsonl"))
        if logs and logs[0].read_text().count("\n") >= 1:
            return logs[0]
        time.sleep(0.05)
    return None


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_sigterm_stops_a_cli_run_with_a_checkpoint(tiny_project, tmp_path: Path) -> None:
    sig = signal.SIGTERM
    tiny_project.training.epochs = 500
    project = tmp_path / "p.toml"
    save_config(tiny_project, project)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "workbench", "train", str(project)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs = tmp_path / "runs"
    log = _first_epoch_log(runs)
    if log is None:
        process.kill()
        pytest.fail("the run never finished an epoch")
    process.send_signal(sig)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert f"{sig.name} received: stopping after the current batch and saving a checkpoint" in err
    assert f"run {log.parent.name} stopped" in out
    _check_stopped(runs, log.parent)


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_ctrl_c_stops_the_run_and_it_resumes(tiny_project, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    from workbench.cli import main

    tiny_project.training.epochs = 500
    project = tmp_path / "p.toml"
    save_config(tiny_project, project)
    runs = tmp_path / "runs"
    found: list[Path] = []

    def interrupt() -> None:
        log = _first_epoch_log(runs)
        if log is not None:
            found.append(log)
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN under nohup and in background jobs
    watcher = threading.Thread(target=interrupt, daemon=True)
    watcher.start()
    assert main(["train", str(project)]) == 0
    watcher.join(5)
    assert found, "the run never finished an epoch"
    assert "SIGINT received: stopping after the current batch" in capsys.readouterr().err
    _check_stopped(runs, found[0].parent)
    assert signal.getsignal(signal.SIGINT) is before, "the old handler is back"
    done = json.loads((found[0].parent / "run.json").read_text())["epochs_run"]
    assert main(["train", "--resume", str(found[0].parent), "--epochs", str(done + 1)]) == 0
    status = json.loads((found[0].parent / "run.json").read_text())
    assert status["status"] == "completed" and status["epochs_run"] == done + 1


def test_signals_are_left_to_torchrun_under_ddp(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.core.training.control import RunControl
    from workbench.core.training.signals import stop_on_signals

    monkeypatch.setenv("WORLD_SIZE", "2")
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals(RunControl()):
        assert signal.getsignal(signal.SIGTERM) is before, "ranks that stop at different batches would hang"
    monkeypatch.setenv("WORLD_SIZE", "1")
    with stop_on_signals(RunControl()):
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before
