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


def test_no_file_of_the_gui_is_over_400_lines() -> None:
    import workbench.qt

    root = Path(workbench.qt.__file__).parent
    long = {str(p.relative_to(root)): n for p in root.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long, long


def test_the_schedule_preview_is_capped_in_points(qtbot, window, monkeypatch) -> None:
    from workbench.qt.panes.strategy import SCHEDULE_POINTS, preview_steps

    assert preview_steps(200, 3125) * 200 <= SCHEDULE_POINTS and preview_steps(3, 50) == 50  # short ones are exact
    from workbench.qt.panes import strategy as strategy_module

    computed: list[int] = []  # how many points the GUI thread computes, not only how many it draws
    real = strategy_module.schedule_curve
    monkeypatch.setattr(strategy_module, "schedule_curve", lambda cfg, spe: computed.append(cfg.epochs * spe)
                        or real(cfg, spe))
    strategy = window.panes["strategy"]
    monkeypatch.setattr(strategy, "steps_per_epoch", lambda: 3125)
    window.project.update_many({"training.epochs": 200, "training.scheduler": "cosine", "training.lr": 0.01})
    strategy._draw_schedule()
    assert computed and computed[-1] <= SCHEDULE_POINTS
    xs, ys = strategy.schedule_plot.series_data("lr")
    assert 1000 <= len(xs) <= SCHEDULE_POINTS  # not 625,000
    assert ys[0] == 0.01 and ys[-1] < 1e-4 and xs[-1] > 199  # the same curve, start to end


def test_stored_history_draws_the_same_curves_as_live_epochs(qtbot) -> None:
    from workbench.qt.widgets.training_curves import TrainingCurves

    rows = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_accuracy": 0.1 * e, "accuracy": 0.09 * e,
             "balanced_accuracy": 0.08 * e, "lr": 0.01 / e} for e in (1, 2, 3)]
    live, stored = TrainingCurves(), TrainingCurves()
    qtbot.addWidget(live)
    qtbot.addWidget(stored)
    for row in rows:
        live.add_epoch(row["epoch"], row)
    assert stored.show_history(rows) == 3
    for a, b in zip(live.plots, stored.plots, strict=True):
        for key in ("train", "val", "epoch", "val_balanced"):
            if key in a._series:
                assert [list(v) for v in a.series_data(key)] == [list(v) for v in b.series_data(key)]
    assert live.acc_plot.series_length("val_balanced") == 3
