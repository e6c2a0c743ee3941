"""No false alarms: the clean digits demo, with every default diagnostic and the live projection, raises no
finding of severity warning or above (the small-data advice is info)."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench.core.diagnostics
import workbench.core.projection  # noqa: F401  (registers the projection monitor)
from workbench.core.callbacks import CollectingCallback
from workbench.core.demo import demo_config, write_digits_dataset
from workbench.core.diagnostics.findings import INFO
from workbench.core.events import BackgroundProgress, FindingRaised, ProjectionReady, RunFinished
from workbench.core.training.engine import train
from workbench.core.training.monitors import default_monitors


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("digits")
    config = demo_config(write_digits_dataset(root / "data"), root / "runs")
    config.training.epochs = 3
    monitors = default_monitors(config)
    assert {"DataChecksMonitor", "ShortcutMonitor", "ProjectionMonitor", "DeadUnitMonitor"} <= {
        type(m).__name__ for m in monitors}
    callback = CollectingCallback()
    result = train(config, callback, monitors=monitors)
    return result, callback, monitors


def test_clean_digits_raise_no_warning(digits_run) -> None:
    result, callback, _ = digits_run
    assert result.status == "completed"
    findings = callback.of_type(FindingRaised)
    loud = [(f.code, f.severity, f.title) for f in findings if f.severity != INFO]
    assert loud == []
    assert "small-data" in {f.code for f in findings}  # the advice is there, as info


def test_clean_digits_projection_shows_class_structure(digits_run) -> None:
    _, callback, monitors = digits_run
    final = [e for e in callback.of_type(ProjectionReady) if not e.partial]
    assert final and final[-1].epoch == 3
    assert final[-1].scores["knn_accuracy"] >= 0.9
    # The run is reported finished first; the final projection and the shortcut probe come after it, each
    # with its own labelled progress line.
    finished = callback.events.index(callback.of_type(RunFinished)[0])
    assert callback.events.index(final[-1]) > finished
    after = [e for e in callback.events[finished:] if isinstance(e, BackgroundProgress)]
    assert "Checking for shortcuts: 3 of 10 classes" in {e.text for e in after}
    assert {e.task for e in after if e.finished} >= {"projection", "shortcut", "label-check"}
    shortcut = next(m for m in monitors if type(m).__name__ == "ShortcutMonitor")
    assert shortcut.report is not None and len(shortcut.report.class_maps) == 10
    assert Path(shortcut.report.maps_path).is_file()
