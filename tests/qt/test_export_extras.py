"""The Export pane's extras against the real engine: ONNX parity shown, the report written and opened,
and Try it predicting dropped images with the run and with the exported bundle."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from tests.core.eval_fixtures import template_runs
from tests.qt.helpers import indexed_run, shot
from workbench.qt.panes import export as export_module

TIMEOUT = 90_000


def drop(widget, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)
    assert event.isAccepted()


def test_export_report_and_try_it(make_window, qtbot, tmp_path, tmp_path_factory, monkeypatch):
    pytest.importorskip("onnxruntime")
    opened: list[str] = []
    monkeypatch.setattr(export_module.QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    templates = template_runs(tmp_path_factory)
    window = make_window()
    window.resize(1400, 1100)
    run_dir = indexed_run(templates["rgb_run"], tmp_path / "runs")
    window.runs.refresh(select=str(run_dir))  # another dataset's run: picked by hand, never by default
    qtbot.waitUntil(lambda: window.runs.current == str(run_dir), timeout=TIMEOUT)
    window.show_step("export")
    pane = window.panes["export"]
    window.project.update("export.onnx", True)
    pane.dest_edit.setText(str(tmp_path / "exported"))

    image = next((templates["rgb_data"] / "square").glob("*.png"))
    drop(pane.try_it.drop, [image])  # Try it with the trained run
    qtbot.waitUntil(lambda: pane.try_it.result is not None, timeout=TIMEOUT)
    row = pane.try_it.result["rows"][0]
    assert len(row["top3"]) == 3 and abs(sum(c for _, c in row["top3"]) - 1.0) < 0.05
    assert pane.try_it.table.rowCount() == 1 and pane.try_it.table.item(0, 1).text().endswith("%")

    pane.export_button.click()
    qtbot.waitUntil(lambda: bool(pane.written) or bool(pane.error), timeout=TIMEOUT)
    assert not pane.error
    names = {p.name for p in pane.written}
    assert {"model.onnx", "model.torchscript.pt"} <= names and any(n.endswith(".wbmodel") for n in names)
    assert pane.onnx_passed is True and "ONNX parity" in pane.done_label.text() and "PASS" in pane.done_label.text()

    pane.report_button.click()
    qtbot.waitUntil(lambda: bool(pane.report) or bool(pane.error), timeout=TIMEOUT)
    assert not pane.error and Path(pane.report["html"]).exists()
    assert pane.report["pdf"] and Path(pane.report["pdf"]).stat().st_size > 0
    pane.open_pdf.click()
    pane.open_report_folder.click()
    assert opened == [pane.report["pdf"], str(Path(pane.report["html"]).parent)]

    bundle = next(p for p in pane.written if p.suffix == ".wbmodel")
    pane.try_it.set_bundle(str(bundle))  # Try it with the exported bundle, two images at once
    pane.try_it.result = None
    drop(pane.try_it.drop, [image, next((templates["rgb_data"] / "vbar").glob("*.png"))])
    qtbot.waitUntil(lambda: pane.try_it.result is not None, timeout=TIMEOUT)
    assert pane.try_it.result["model"] == str(bundle) and pane.try_it.table.rowCount() == 2
    qtbot.waitUntil(lambda: not window.tasks.is_busy, timeout=TIMEOUT)
    shot(window, "export_0_top")
    area = pane.body.parentWidget().parentWidget()
    area.ensureWidgetVisible(pane.try_it.table)
    shot(window, "export_1_try_it")


def test_open_html_says_where_the_file_is_when_the_system_cannot_open_it(window, tmp_path, monkeypatch):
    monkeypatch.setattr(export_module.QDesktopServices, "openUrl", lambda url: False)  # no browser launcher
    pane = window.panes["export"]
    page = tmp_path / "report" / "report.html"
    pane.report = {"html": str(page), "pdf": str(page.with_suffix(".pdf"))}
    pane.open_html.click()
    assert pane.banner.isVisibleTo(pane) and str(page) in pane.banner.text.text()
    pane.open_pdf.click()
    assert str(page.with_suffix(".pdf")) in pane.banner.text.text() and "file manager" in pane.banner.text.text()
