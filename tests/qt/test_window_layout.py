"""Layout and plain words of the window (issue 16): findings that fold and scroll, names that are never cut without
a tooltip, calibration bins with their counts, a Close button on every window, exports in a visible folder, and a
path shown when the system cannot open a file."""

from __future__ import annotations

from pathlib import Path

from workbench.qt.widgets.calibration_plot import ReliabilityPlot
from workbench.qt.widgets.findings_list import MAX_LIST_HEIGHT
from workbench.qt.widgets.tables import read_only_table, set_row


def test_the_findings_panel_folds_and_scrolls(qtbot, window) -> None:
    data = window.panes["data"]
    window.resize(1300, 900)
    window.show_step("data")
    for i in range(8):
        window.findings.add({"code": f"check-{i}", "severity": "warning", "title": f"Finding number {i}",
                             "explanation": "An explanation " * 12, "fix": "A fix.", "pane": "data"}, "data")
    panel = data.findings
    qtbot.waitUntil(lambda: len(panel.cards) == 8 and panel.isVisible(), timeout=5_000)
    qtbot.wait(50)
    assert panel.scroll.height() <= MAX_LIST_HEIGHT < panel.cards_box.sizeHint().height()
    qtbot.waitUntil(lambda: panel.scroll.verticalScrollBar().maximum() > 0, timeout=5_000)  # the rest scrolls
    panel.header.click()  # fold
    assert not panel.scroll.isVisible()
    qtbot.waitUntil(lambda: panel.height() < 60, timeout=5_000)  # only the header is left
    panel.header.click()
    assert panel.scroll.isVisible()


def test_a_cut_name_keeps_its_full_text_as_a_tooltip(qtbot) -> None:
    table = read_only_table(["Class", "Images"])
    qtbot.addWidget(table)
    table.setRowCount(1)
    set_row(table, 0, ["polycrystalline_cell_with_microcracks", 120])
    assert table.item(0, 0).toolTip() == "polycrystalline_cell_with_microcracks"


def test_calibration_bins_show_their_counts(qtbot) -> None:
    plot = ReliabilityPlot()
    qtbot.addWidget(plot)
    bins = [{"lower": 0.5, "upper": 0.6, "count": 3, "accuracy": 0.33, "confidence": 0.55},
            {"lower": 0.6, "upper": 0.7, "count": 0, "accuracy": 0.0, "confidence": 0.0},
            {"lower": 0.9, "upper": 1.0, "count": 117, "accuracy": 0.95, "confidence": 0.97}]
    plot.set_calibration({"ece": 0.04, "mce": 0.22, "bins": bins})
    assert [label.toPlainText() for label in plot.count_labels] == ["n=3", "n=117"]  # empty bins have no bar


def test_the_runs_window_has_a_close_button(qtbot, window) -> None:
    window.show_runs()
    from workbench.qt.runs_view import RunsView

    view = next(w for w in window.findChildren(RunsView) if w.isVisible())
    assert view.close_button.isVisible() and view.close_button.text() == "Close"
    view.close_button.click()
    assert not view.isVisible()


def test_exports_default_to_a_visible_folder_beside_the_project(qtbot, window, tmp_path) -> None:
    export = window.panes["export"]
    run_dir = str(tmp_path / "runs" / "run-1")
    unsaved = Path(export.default_destination(run_dir))
    assert not any(part.startswith(".") for part in unsaved.parts), unsaved  # not a hidden per-user folder
    assert unsaved.parts[-2:] == ("exports", "run-1")
    assert window._save_to(tmp_path / "project" / "cells.toml")
    assert Path(export.default_destination(run_dir)) == (tmp_path / "project" / "exports" / "run-1").resolve()


def test_open_shows_the_path_when_the_system_cannot_open_it(qtbot, window, tmp_path, monkeypatch) -> None:
    from workbench.qt.panes import export as export_module

    monkeypatch.setattr(export_module.QDesktopServices, "openUrl", lambda url: False)  # no browser launcher
    export = window.panes["export"]
    report = tmp_path / "report" / "report.html"
    assert not export.open_file(report)
    assert export.banner.isVisibleTo(export) and str(report) in export.banner.text.text()
