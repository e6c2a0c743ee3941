"""Export step: save the trained model with what inference needs, plus its metrics (CSV) and curves (PNG);
write the run's report (HTML and PDF); and try the model on new images.

Export, report and predictions each run as a background task; `write_run_report` is what the report task runs.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QListWidget, QPushButton

from workbench.qt import dialogs, jobs
from workbench.qt.panes.base import Pane, group, hint
from workbench.qt.tasks import TaskFailure
from workbench.qt.widgets.forms import ConfigForm
from workbench.qt.widgets.run_picker import RunPicker
from workbench.qt.widgets.step_list import StepState, StepStatus
from workbench.qt.widgets.try_it import TryItArea

WHAT_IS_WRITTEN = (
    ("model bundle (.wbmodel)", "weights, settings, class names and normalisation in one file Workbench can load"),
    ("model.torchscript.pt", "the model for PyTorch without Workbench, checked against the original"),
    ("model.onnx", "the model for ONNX runtimes (optional), checked against the original"),
    ("MODEL_CARD.md", "what the model is for, how it was trained and how well it does"),
    ("metrics.csv", "per-epoch losses and metrics"),
    ("curves.png", "loss and accuracy curves as a picture"),
    ("split.csv", "which image was in which split"),
)
FILE_LABELS = {"bundle": "Model bundle", "model_card": "Model card", "torchscript": "TorchScript model",
               "onnx": "ONNX model", "metrics_csv": "Metrics (CSV)", "curves": "Curves (PNG)",
               "split": "Split manifest"}


def open_path(path: str | Path) -> bool:
    """Open a file or folder with the desktop's default application."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


class ExportPane(Pane):
    key = "export"
    title = "Export"
    subtitle = "Save the trained model with everything needed to use it, and the run's metrics and curves."

    def __init__(self, context, parent=None) -> None:
        super().__init__(context, parent)
        self.runs = context.runs
        self.tasks = context.tasks
        self.written: list[Path] = []
        self.summary: dict = {}
        self.onnx_passed: bool | None = None
        self.error = ""
        self.exporting = False
        self.reporting = False
        self.report: dict = {}
        self._dest_edited = False
        self._build()
        self.runs.current_changed.connect(self._on_current_run)
        self.runs.changed.connect(self._update_state)
        self._on_current_run(self.runs.current)

    def _build(self) -> None:
        self.picker = RunPicker(self.runs)
        self.dest_edit = QLineEdit()
        self.dest_edit.setObjectName("exportDestination")
        self.dest_edit.setPlaceholderText(self.tr("Folder to write the files to"))
        self.dest_edit.textEdited.connect(lambda _text: setattr(self, "_dest_edited", True))
        choose = QPushButton(self.tr("Choose…"))
        choose.clicked.connect(self._choose_destination)
        self.export_button = QPushButton(self.tr("Export model and results"))
        self.export_button.setObjectName("primary")
        self.export_button.clicked.connect(self.export)
        run_row = QHBoxLayout()
        run_row.addWidget(QLabel(self.tr("Run")))
        run_row.addWidget(self.picker, 1)
        dest_row = QHBoxLayout()
        dest_row.addWidget(QLabel(self.tr("Destination")))
        dest_row.addWidget(self.dest_edit, 1)
        dest_row.addWidget(choose)
        self.options = ConfigForm(self.project, "export")
        self.progress_label = hint("")
        button_row = QHBoxLayout()
        button_row.addWidget(self.options)
        button_row.addStretch(1)
        button_row.addWidget(self.progress_label)
        button_row.addWidget(self.export_button)
        contents = "<br>".join(f"<b>{name}</b> — {self.tr(text)}" for name, text in WHAT_IS_WRITTEN)
        what = QLabel(contents)
        what.setObjectName("summary")
        self.body_layout.addWidget(group(self.tr("Export"), run_row, dest_row, hint(self.tr("Files written:")), what,
                                         button_row))
        self.files = QListWidget()
        self.files.setObjectName("exportedFiles")
        self.files.setMinimumHeight(160)
        self.open_button = QPushButton(self.tr("Open folder"))
        self.open_button.clicked.connect(self._open_folder)
        open_row = QHBoxLayout()
        open_row.addStretch(1)
        open_row.addWidget(self.open_button)
        self.done_label = hint("")
        self.results_box = group(self.tr("Exported files"), self.done_label, self.files, open_row)
        self.results_box.hide()
        self.body_layout.addWidget(self.results_box)
        self.body_layout.addWidget(self._build_report())
        self.try_it = TryItArea(self.tasks, lambda: self.runs.current)
        self.body_layout.addWidget(group(self.tr("Try it"), hint(self.tr(
            "Check the model on new images before sharing it: drop image files (or a folder) below to see its "
            "three most likely classes for each. Nothing here touches the test set.")), self.try_it))
        self.body_layout.addStretch(1)

    def _build_report(self):
        self.report_button = QPushButton(self.tr("Write report"))
        self.report_button.setObjectName("reportButton")
        self.report_button.clicked.connect(self.write_report)
        self.report_label = hint(self.tr("A self-contained HTML page and a PDF with the data, settings, curves, "
                                         "evaluation and the pitfall checklist, written to the destination's "
                                         "report folder."))
        self.open_html = QPushButton(self.tr("Open HTML"))
        self.open_pdf = QPushButton(self.tr("Open PDF"))
        self.open_report_folder = QPushButton(self.tr("Open folder"))
        self.open_html.clicked.connect(lambda: self.open_file(self.report.get("html", "")))
        self.open_pdf.clicked.connect(lambda: self.open_file(self.report.get("pdf", "")))
        self.open_report_folder.clicked.connect(lambda: self.open_file(Path(self.report.get("html", "")).parent))
        row = QHBoxLayout()
        row.addWidget(self.report_label, 1)
        for button in (self.open_html, self.open_pdf, self.open_report_folder):
            row.addWidget(button)
            button.hide()
        row.addWidget(self.report_button)
        return group(self.tr("Report"), row)

    def write_report(self) -> None:
        run_dir = self.runs.current
        dest = self.dest_edit.text().strip()
        if not run_dir or not dest:
            return
        self.reporting = True
        self.report = {}
        self._update_state()
        self.tasks.submit("report", jobs.write_run_report, run_dir, str(Path(dest) / "report"),
                          label=self.tr("Writing the report"), on_result=self._on_report, on_error=self._on_error,
                          expected=(FileNotFoundError, PermissionError, OSError, ValueError, RuntimeError))

    def _on_report(self, report: dict) -> None:
        self.reporting = False
        self.report = report
        text = self.tr("Report written: {0}").format(report["html"])
        if report.get("pdf"):
            text += "<br>" + self.tr("PDF: {0}").format(report["pdf"])
        else:
            text += "<br>" + self.tr("No PDF: {0}").format(report.get("pdf_error", ""))
        self.report_label.setText(text)
        self.open_pdf.setEnabled(bool(report.get("pdf")))
        for button in (self.open_html, self.open_pdf, self.open_report_folder):
            button.show()
        self.ctx.log("info", self.tr("Report written to {0}").format(Path(report["html"]).parent))
        self._update_state()

    # --- actions ----------------------------------------------------------------------------------

    def default_destination(self, run_dir: str) -> str:
        """A visible folder: `exports` beside the project file, or in the user's documents while unsaved (the runs of
        an unsaved project live in a hidden per-user folder, no place to look for exported files)."""
        project_path = self.project.path
        if project_path is not None:
            base = project_path.parent
        else:
            documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
            base = Path(documents or Path.home()) / "Workbench"
        return str(base / "exports" / Path(run_dir).name)

    def open_file(self, path: str | Path) -> bool:
        """Open with the desktop's default application; where the system cannot, say where the file is."""
        if path and open_path(path):
            return True
        message = self.tr("The system could not open {0} (no application is set up for it). The file is saved "
                          "there: open it from a file manager or a browser.").format(path)
        self.show_notice(message)
        self.ctx.log("warning", message)
        return False

    def _choose_destination(self) -> None:
        path = dialogs.choose_folder(self, self.tr("Choose where to export"), self.dest_edit.text())
        if path:
            self.dest_edit.setText(path)
            self._dest_edited = True

    def export(self) -> None:
        run_dir = self.runs.current
        dest = self.dest_edit.text().strip()
        if not run_dir or not dest:
            self._update_state()
            return
        self.exporting = True
        self.error = ""
        self._update_state()
        self.tasks.submit("export", jobs.export_run, run_dir, dest, self.project.config.export.onnx,
                          label=self.tr("Exporting"), on_result=self._on_exported, on_error=self._on_error,
                          on_progress=lambda _d, _t, message: self.progress_label.setText(message + "…"),
                          expected=(FileNotFoundError, PermissionError, OSError, ValueError, RuntimeError))

    def _on_exported(self, summary: dict) -> None:
        self.exporting = False
        self.progress_label.setText("")
        self.summary = summary
        files = summary.get("files", {})
        self.written = [Path(p) for p in files.values()]
        self.files.clear()
        for key, path in files.items():
            self.files.addItem(f"{self.tr(FILE_LABELS.get(key, key))}: {path}")
        folder = str(Path(self.written[0]).parent) if self.written else self.dest_edit.text()
        checks = []
        if "torchscript_max_abs_diff" in summary:
            checks.append(self.tr("TorchScript matches the original (largest difference {0:.1e})").format(
                summary["torchscript_max_abs_diff"]))
        if "onnx_max_abs_diff" in summary:
            passed = bool(summary.get("onnx_passed", True))
            colour, verdict = ("#2f9e6b", self.tr("PASS")) if passed else ("#c0392b", self.tr("FAIL"))
            checks.append(self.tr("ONNX parity <b style='color:{0}'>{1}</b>: largest absolute difference {2:.1e} "
                                  "(tolerance {3:.0e})").format(colour, verdict, summary["onnx_max_abs_diff"],
                                                                summary.get("tolerance", 1e-4)))
            self.onnx_passed = passed
        else:
            self.onnx_passed = None
        text = self.tr("{0} files written to {1}").format(len(self.written), folder)
        if checks:
            text += "<br>" + "<br>".join(checks)
        self.done_label.setText(text)
        self.ctx.log("info", self.tr("Exported {0} files to {1}").format(len(self.written), folder))
        self._update_state()

    def _on_error(self, failure: TaskFailure) -> None:
        self.exporting = False
        self.reporting = False
        self.progress_label.setText("")
        self.error = failure.message
        self._update_state()

    def _open_folder(self) -> None:
        if self.written:
            self.open_file(Path(self.written[0]).parent)

    def _on_current_run(self, run_dir: str) -> None:
        if run_dir and not self._dest_edited:
            self.dest_edit.setText(self.default_destination(run_dir))
        self.written = []
        self.error = ""
        self.report = {}
        for button in (self.open_html, self.open_pdf, self.open_report_folder):
            button.hide()
        self._update_state()

    def _update_state(self, *_: object) -> None:
        has_run = bool(self.runs.current)
        self.export_button.setEnabled(has_run and not self.exporting)
        self.export_button.setText(self.tr("Exporting…") if self.exporting else self.tr("Export model and results"))
        self.report_button.setEnabled(has_run and not self.reporting)
        self.report_button.setText(self.tr("Writing…") if self.reporting else self.tr("Write report"))
        self.results_box.setVisible(bool(self.written))
        if not has_run:
            self.show_notice(self.tr("This step needs a trained model: finish (or stop) a run in the Train step "
                                     "first."), target="train")
        elif self.error:
            self.show_notice(self.tr("Export failed: {0}").format(self.error))
        else:
            self.clear_notice()
        self.status_changed.emit()

    def status(self) -> StepStatus:
        if not self.runs.current:
            return StepStatus(StepState.NOT_STARTED, self.tr("Needs a trained run"))
        if self.error:
            return StepStatus(StepState.ATTENTION, self.tr("Export failed"))
        if self.written:
            return StepStatus(StepState.READY, self.tr("Exported {0} files").format(len(self.written)))
        return StepStatus(StepState.NOT_STARTED, self.tr("Not exported yet"))
