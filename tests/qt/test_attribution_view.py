"""The Evaluate pane's "What the model looks at" maps against the real engine: saved maps load with their
findings, the Compute button produces maps for a run without any, errors show inline, and switching runs
clears the maps.

Set WORKBENCH_SHOTS to a folder to also save a picture of the pane with maps shown.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.core.eval_fixtures import template_runs
from tests.helpers import without_validation
from tests.qt.helpers import indexed_run, shot

TIMEOUT = 90_000
NAMES = ["square", "hbar", "vbar"]  # the template runs' classes, in classes.json order


def save_monitor_maps(run_dir: Path) -> None:
    """Maps as the training monitor leaves them (no mean images), with a shortcut finding on "hbar"."""
    from workbench.core.runs import write_json

    folder = run_dir / "diagnostics"
    folder.mkdir(parents=True, exist_ok=True)
    maps = np.full((3, 16, 16), 1 / 256, np.float32)
    maps[1, 0, :] = 0.05  # "hbar" looks at the top border
    np.save(folder / "attribution_maps.npy", maps / maps.sum(axis=(1, 2), keepdims=True))
    (folder / "attribution_maps.txt").write_text("\n".join(NAMES) + "\n", encoding="utf-8")
    write_json(run_dir / "findings.json", {"findings": [
        {"code": "shortcut-border", "severity": "warning", "title": "Predictions of 'hbar' rest on the border",
         "explanation": "Much of what drives the 'hbar' predictions lies in the image border.", "fix": "Crop it.",
         "evidence": {"class": "hbar"}, "pane": "evaluate"}]})


def test_saved_maps_show_and_compute_fills_a_run_without(make_window, qtbot, tmp_path, tmp_path_factory):
    templates = template_runs(tmp_path_factory)
    window = make_window()
    window.resize(1400, 1000)
    runs = tmp_path / "runs"
    saved = indexed_run(templates["rgb_run"], runs, "with-maps")
    save_monitor_maps(saved)
    fresh = indexed_run(templates["grey_run"], runs, "without-maps")
    broken = indexed_run(templates["grey_run"], runs, "no-validation")
    without_validation(broken)
    window.runs.refresh(select=str(saved))
    window.show_step("evaluate")
    pane = window.panes["evaluate"]

    # A run with saved maps: they load in the background, one cell per class, the flagged class marked.
    qtbot.waitUntil(lambda: pane.attribution_panel.attributions is not None, timeout=TIMEOUT)
    view = pane.attribution_view
    assert view.isVisibleTo(pane) and view.class_names == NAMES
    assert [cell.caption.text().count(name) for cell, name in zip(view.cells, NAMES, strict=True)] == [1, 1, 1]
    assert view.flagged == ["hbar"] and "⚠" in view.cells[1].caption.text()
    assert view.findings.isVisibleTo(pane) and "rest on the border" in view.findings.text()
    assert "training images" in view.legend.text()  # the monitor's maps say where they come from
    assert not view.underlay.isVisibleTo(pane)  # the monitor saved no mean images to lay the maps over
    assert pane.attribution_panel.button.isEnabled() and pane.attribution_panel.button.text() == "Compute attribution maps"

    # Switching to a run without maps clears them; Compute produces them in the background.
    window.runs.set_current(str(fresh))
    assert pane.attribution_panel.attributions is None and view.cells == [] and not view.isVisibleTo(pane)
    qtbot.waitUntil(lambda: not window.tasks.is_running("stored-attributions"), timeout=TIMEOUT)
    assert pane.attribution_panel.attributions is None
    pane.attribution_panel.button.click()
    assert pane.attribution_panel.running and not pane.attribution_panel.button.isEnabled()
    qtbot.waitUntil(lambda: not pane.attribution_panel.running, timeout=TIMEOUT)
    assert not pane.attribution_panel.error and pane.attribution_panel.attributions is not None
    assert pane.attribution_panel.attributions.split == "val" and pane.attribution_panel.button.text() == "Recompute"
    assert view.class_names == pane.attribution_panel.attributions.class_names and 1 <= len(view.cells) <= 3
    assert view.underlay.isVisibleTo(pane) and "validation images" in view.legend.text()
    assert (fresh / "diagnostics" / "attribution_maps.npy").is_file()
    assert np.load(fresh / "diagnostics" / "attribution_maps.npy").shape == (len(view.cells), 16, 16)
    pixmaps = [cell.picture.pixmap() for cell in view.cells]
    assert all(p.width() == p.height() == 96 for p in pixmaps)  # 16 px maps enlarged to full cells
    view.underlay.setChecked(False)  # plain heat maps: the cells are redrawn, not lost
    assert view.class_names == pane.attribution_panel.attributions.class_names and "mean image" not in view.legend.text()
    view.underlay.setChecked(True)
    area = pane.body.parentWidget().parentWidget()
    area.ensureWidgetVisible(view)
    shot(window, "evaluate_attribution_maps")

    # A run that cannot give maps says why, inline; going back to a run with maps shows them again.
    window.runs.set_current(str(broken))
    qtbot.waitUntil(lambda: not window.tasks.is_running("stored-attributions"), timeout=TIMEOUT)
    pane.attribution_panel.button.click()
    qtbot.waitUntil(lambda: not pane.attribution_panel.running, timeout=TIMEOUT)
    assert "no validation images" in pane.attribution_panel.error
    assert pane.attribution_panel.error_label.isVisibleTo(pane) and "no validation images" in pane.attribution_panel.error_label.text()
    assert pane.attribution_panel.attributions is None and not view.isVisibleTo(pane)
    window.runs.set_current(str(fresh))
    assert not pane.attribution_panel.error_label.isVisibleTo(pane)
    qtbot.waitUntil(lambda: pane.attribution_panel.attributions is not None, timeout=TIMEOUT)
    assert pane.attribution_panel.attributions.split == "val" and view.cells
