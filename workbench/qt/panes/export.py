"""Export step: save the trained model with what inference needs, plus its metrics (CSV) and curves (PNG)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QListWidget, QPushButton

from workbench.qt import dialogs, jobs
from workbench.qt.panes.base import Pane, group, hint
from workbench.qt.tasks import TaskFailure
from workbench.qt.widgets.forms import ConfigForm
from workbench.qt.widgets.run_picker import RunPicker
from workbench.qt.widgets.step_list import StepState, StepStatus

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
        self.error = ""
        self.exporting = False
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
        self.body_layout.addStretch(1)

    # --- actions ----------------------------------------------------------------------------------

    def default_destination(self, run_dir: str) -> str:
        project_path = self.project.path
        base = project_path.parent if project_path is not None else Path(run_dir).parent.parent
        return str(base / "exports" / Path(run_dir).name)

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
            verdict = self.tr("matches") if summary.get("onnx_passed", True) else self.tr("DOES NOT match")
            checks.append(self.tr("ONNX {0} the original (largest difference {1:.1e})").format(
                verdict, summary["onnx_max_abs_diff"]))
        text = self.tr("{0} files written to {1}").format(len(self.written), folder)
        if checks:
            text += "<br>" + "<br>".join(checks)
        self.done_label.setText(text)
        self.ctx.log("info", self.tr("Exported {0} files to {1}").format(len(self.written), folder))
        self._update_state()

    def _on_error(self, failure: TaskFailure) -> None:
        self.exporting = False
        self.progress_label.setText("")
        self.error = failure.message
        self._update_state()

    def _open_folder(self) -> None:
        if self.written:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(self.written[0]).parent)))

    def _on_current_run(self, run_dir: str) -> None:
        if run_dir and not self._dest_edited:
            self.dest_edit.setText(self.default_destination(run_dir))
        self.written = []
        self.error = ""
        self._update_state()

    def _update_state(self, *_: object) -> None:
        has_run = bool(self.runs.current)
        self.export_button.setEnabled(has_run and not self.exporting)
        self.export_button.setText(self.tr("Exporting…") if self.exporting else self.tr("Export model and results"))
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
