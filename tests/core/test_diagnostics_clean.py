"""No false alarms: the clean digits demo, with every default diagnostic and the live projection, raises no
finding of severity warning or above (the small-data advice is info)."""

from __future__ import annotations

import numpy as np
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
    result, callback, monitors = digits_run
    # The run is reported finished first; the feature check and the shortcut probe come after it, each with its
    # own labelled progress line.
    finished = callback.events.index(callback.of_type(RunFinished)[0])
    [verdict] = [e for e in callback.events[finished:] if isinstance(e, FindingRaised) and e.code == "feature-structure"]
    assert verdict.severity == INFO and verdict.evidence["knn_accuracy"] >= 0.9
    after = [e for e in callback.events[finished:] if isinstance(e, BackgroundProgress)]
    assert "Checking for shortcuts: 3 of 10 classes" in {e.text for e in after}
    assert {e.task for e in after if e.finished} >= {"projection", "shortcut", "label-check"}
    # Nothing found, so no attribution maps were drawn: they are a finding's evidence (and cost 64 passes an image).
    shortcut = next(m for m in monitors if type(m).__name__ == "ShortcutMonitor")
    assert shortcut.report is not None and shortcut.report.findings == [] and shortcut.report.class_maps == {}
    assert not list(result.run_dir.rglob("attribution_maps.npy"))


def test_a_headless_run_draws_its_final_t_sne_layout_when_a_report_asks(digits_run) -> None:
    from workbench.core.projection.deferred import FEATURES_FILE, final_layout

    result, callback, _ = digits_run
    assert not [e for e in callback.of_type(ProjectionReady) if not e.partial]  # no window watched it form
    assert (result.run_dir / FEATURES_FILE).is_file() and not (result.run_dir / "projection.json").exists()
    layout = final_layout(result.run_dir)
    assert layout is not None and (layout["epoch"], layout["method"], layout["split"]) == (3, "tsne", "val")
    points = np.asarray(layout["points"])
    assert points.shape == (len(layout["labels"]), 2) and len(points) >= 200 and np.isfinite(points).all()
    assert layout["scores"]["knn_accuracy"] >= 0.9 and len(layout["class_names"]) == 10
    # The layout shows the structure the verdict found: each point's nearest neighbour mostly shares its class.
    distances = ((points[:, None] - points[None]) ** 2).sum(-1) + np.eye(len(points)) * 1e9
    labels = np.asarray(layout["labels"])
    assert np.mean(labels[distances.argmin(1)] == labels) >= 0.8
    stored = (result.run_dir / "projection.json").read_text()
    assert final_layout(result.run_dir)["points"] == layout["points"]  # kept, not fitted again
    assert (result.run_dir / "projection.json").read_text() == stored


def test_beside_a_window_the_deferred_layout_is_fitted_in_a_helper_process(digits_run, tmp_path, monkeypatch) -> None:
    """t-SNE holds the GIL for long stretches: a report made from the window fits the layout in a helper process."""
    import shutil

    from workbench.core.projection import methods
    from workbench.core.projection.deferred import FEATURES_FILE, final_layout

    result, _, _ = digits_run
    for name in (FEATURES_FILE, "classes.json"):
        shutil.copy(result.run_dir / name, tmp_path / name)
    monkeypatch.setattr("workbench.core.host._interactive", True)

    def not_here(*args, **kwargs):
        raise AssertionError("the layout was fitted in the window's process")

    monkeypatch.setattr(methods, "project", not_here)
    layout = final_layout(tmp_path)
    assert layout is not None and len(layout["points"]) == len(layout["labels"]) >= 200
