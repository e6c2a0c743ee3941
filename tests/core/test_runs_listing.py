"""`workbench runs` over a folder holding a completed, a stopped and a failed run (issue 18, item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import tiny_config
from workbench.cli import main
from workbench.core.callbacks import Callback
from workbench.core.events import BatchEnded
from workbench.core.training.control import RunControl
from workbench.core.training.engine import train
from workbench.core.training.monitors import Monitor


class _BrokenMonitor(Monitor):
    def setup(self, context) -> None:
        raise RuntimeError("a monitor broke on purpose")


class _StopAtFirstBatch(Callback):
    def __init__(self, control: RunControl) -> None:
        self.control = control

    def on_event(self, event) -> None:
        if isinstance(event, BatchEnded):
            self.control.request_stop()


def test_runs_lists_failed_and_stopped_runs(shapes_dataset: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    config = tiny_config(shapes_dataset, runs, epochs=1)
    done = train(config, monitors=[])
    control = RunControl()
    stopped = train(config, _StopAtFirstBatch(control), control, monitors=[])
    failed = train(config, monitors=[_BrokenMonitor()])
    assert (done.status, stopped.status, failed.status) == ("completed", "stopped", "failed")
    capsys.readouterr()
    assert main(["runs", str(runs)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert set(lines) == {done.run_id, stopped.run_id, failed.run_id}
    assert " failed " in lines[failed.run_id] and " stopped " in lines[stopped.run_id]
    acc = done.best_metrics["accuracy"]
    assert f"{acc:.4f}" in lines[done.run_id]
    assert "—" in lines[failed.run_id], "a run without a validation accuracy shows a dash"
