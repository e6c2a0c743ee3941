"""Evaluate step: measure the trained model on the locked test set, on request only.

Besides the headline metrics, the pane shows the confusion matrix (counts or row shares), one-vs-rest
ROC and precision-recall curves, the reliability diagram, the most confident errors with saliency
overlays, test-time augmentation beside the plain prediction, the robustness check, and external
validation on a folder of labelled images, reported apart from the internal test, and what the model
looks at: per-class mean attribution maps on validation images with the shortcut check (section II-E).
Every evaluation runs as a background task (the workers are in `workbench.qt.jobs`) and returns a typed result
(`workbench.qt.eval_results`).
"""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.core.catalog.tta import COMBINE_RULES, TTA_AUGMENTATIONS
from workbench.core.config import ConfigError
from workbench.core.data.errors import DatasetError
from workbench.qt import dialogs, jobs
from workbench.qt.eval_results import ExternalEvaluation, TestEvaluation
from workbench.qt.panes.base import Pane, group, hint
from workbench.qt.project_model import key_affects
from workbench.qt.tasks import TaskFailure
from workbench.qt.widgets.attribution_panel import AttributionPanel
from workbench.qt.widgets.calibration_plot import ReliabilityPlot
from workbench.qt.widgets.forms import Choice, ConfigForm, FieldSpec
from workbench.qt.widgets.gallery import ErrorGallery
from workbench.qt.widgets.metrics_panel import ExternalPanel, SummaryTab, percent
from workbench.qt.widgets.robustness_plot import RobustnessView
from workbench.qt.widgets.roc_plot import RocPrPlots
from workbench.qt.widgets.run_picker import RunPicker
from workbench.qt.widgets.step_list import StepState, StepStatus
from workbench.qt.widgets.tables import set_row
from workbench.qt.widgets.tta_table import TtaComparison

EXPECTED_ERRORS = (ConfigError, DatasetError, FileNotFoundError, ValueError, InterruptedError)


class EvaluatePane(Pane):
    key = "evaluate"
    title = "Evaluate"
    subtitle = "Measure the finished model on the test set it has never seen. Do this once you have stopped tuning."

    def __init__(self, context, parent=None) -> None:
        super().__init__(context, parent)
        self.runs = context.runs
        self.tasks = context.tasks
        self.runner = context.runner
        self.result: TestEvaluation | None = None
        self.external: ExternalEvaluation | None = None
        self.error = ""
        self.cancelled = ""  # why the last evaluation ended without a result, when it was cancelled
        self.warning = ""
        self.evaluating = False
        self.external_running = False
        self._build()
        self.runs.changed.connect(self._update_state)
        self.runs.current_changed.connect(self._on_current_run)
        self.runner.running_changed.connect(self._update_state)
        self.project.changed.connect(self._on_project_changed)
        self._sync_tta_boxes()
        self._update_state()

    # --- building ---------------------------------------------------------------------------------

    def _build(self) -> None:
        self.picker = RunPicker(self.runs)
        self.evaluate_button = QPushButton(self.tr("Evaluate on test set"))
        self.evaluate_button.setObjectName("primary")
        self.evaluate_button.clicked.connect(self.evaluate)
        self.busy = QProgressBar()
        self.busy.setObjectName("busyIndicator")
        self.busy.setRange(0, 0)
        self.busy.setFixedWidth(120)
        self.busy.setMaximumHeight(12)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.busy_label = hint("")
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setToolTip(self.tr("Stop the evaluation. Before the test images are scored nothing is "
                                              "recorded; after that the metrics are kept and the extras skipped."))
        self.cancel_button.clicked.connect(self.cancel_evaluation)
        self.cancel_button.hide()
        self._stop = threading.Event()
        row = QHBoxLayout()
        row.addWidget(QLabel(self.tr("Run")))
        row.addWidget(self.picker, 1)
        row.addWidget(self.busy_label)
        row.addWidget(self.busy)
        row.addWidget(self.cancel_button)
        row.addWidget(self.evaluate_button)
        self.result_note = hint(self.tr("The test images are locked away during training. Each evaluation is "
                                        "recorded with the run, so the number of looks at the test set is known."))
        self.body_layout.addWidget(group(self.tr("Run to evaluate"), row, self._build_options(), self.result_note))

        self.tabs = QTabWidget()
        self.tabs.setObjectName("evaluationTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.setMinimumHeight(560)
        self.summary = SummaryTab()
        self.test_panel, self.val_panel = self.summary.test_panel, self.summary.val_panel
        self.heatmap, self.normalise, self.class_table = self.summary.heatmap, self.summary.normalise, \
            self.summary.class_table
        self.normalise.toggled.connect(self._show_confusion)
        self.tabs.addTab(self.summary, self.tr("Summary"))
        self.curves = RocPrPlots()
        self.tabs.addTab(self._padded(self.curves), self.tr("ROC and PR curves"))
        self.calibration = ReliabilityPlot()
        self.tabs.addTab(self._padded(self.calibration), self.tr("Calibration"))
        self.gallery = ErrorGallery()
        self.tabs.addTab(self._padded(self.gallery, stretch=True), self.tr("Misclassified"))
        self.tta_view = TtaComparison()
        self.tta_tab = self.tabs.addTab(self._padded(self.tta_view), self.tr("Test-time augmentation"))
        self.robustness = RobustnessView()
        self.robustness_tab = self.tabs.addTab(self._padded(self.robustness), self.tr("Robustness"))
        self.results = self.tabs
        self.body_layout.addWidget(self.tabs, 1)
        self.attribution_panel = AttributionPanel(self.tasks, EXPECTED_ERRORS)
        self.attribution_view = self.attribution_panel.view
        self.body_layout.addWidget(self.attribution_panel)
        self.body_layout.addWidget(self._build_external())
        # Takes the spare height only while the tabs (stretch 1) are hidden, so the groups keep their size.
        self.body_layout.addStretch(0)

    def _build_options(self) -> QWidget:
        """Test-time augmentation, robustness and gallery size, written to the project's evaluation settings."""
        box = QWidget()
        layout = QHBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(28)
        tta = QVBoxLayout()
        tta.setSpacing(4)
        tta_title = QLabel(self.tr("Test-time augmentation"))
        tta_title.setObjectName("factName")
        tta_title.setToolTip(self.tr("Also predict transformed copies of each test image and combine the "
                                     "predictions; shown beside the plain prediction."))
        tta.addWidget(tta_title)
        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(4)
        self.tta_boxes: dict[str, QCheckBox] = {}
        for i, (name, label) in enumerate((t.name, t.label) for t in TTA_AUGMENTATIONS.values()):
            check = QCheckBox(self.tr(label))
            check.setToolTip(TTA_AUGMENTATIONS[name].description)
            check.setObjectName(f"tta_{name}")
            check.toggled.connect(self._on_tta_toggled)
            grid.addWidget(check, i // 3, i % 3)
            self.tta_boxes[name] = check
        tta.addLayout(grid)
        tta.addStretch(1)
        self.options = ConfigForm(self.project, "evaluation", [
            FieldSpec("tta_rule", label=self.tr("Combine views by"),
                      choices=tuple(Choice(r.name, self.tr(r.label), r.description) for r in COMBINE_RULES.values())),
            FieldSpec("robustness", label=self.tr("Robustness check"),
                      tooltip=self.tr("Also score perturbed copies of the test images (noise, blur, shift, "
                                      "rotation, brightness, contrast, JPEG). Takes longer.")),
            FieldSpec("gallery_size", label=self.tr("Misclassified gallery"), suffix=self.tr(" images")),
        ])
        layout.addLayout(tta, 3)
        layout.addWidget(self.options, 2)
        return box

    def _build_external(self) -> QWidget:
        self.external_button = QPushButton(self.tr("Choose folder and evaluate…"))
        self.external_button.setObjectName("externalButton")
        self.external_button.clicked.connect(self._choose_external)
        self.external_note = hint(self.tr("A separate folder of labelled images (one sub-folder per class), for "
                                          "example from another lab or microscope. Reported on its own, never "
                                          "mixed with the internal test set."))
        row = QHBoxLayout()
        row.addWidget(self.external_note, 1)
        row.addWidget(self.external_button, 0, Qt.AlignmentFlag.AlignTop)
        self.external_panel = ExternalPanel()
        self.external_panel.hide()
        return group(self.tr("External validation"), row, self.external_panel)

    @staticmethod
    def _padded(widget: QWidget, stretch: bool = False) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(4, 14, 4, 4)
        layout.addWidget(widget, 0 if stretch else 1)
        if stretch:
            layout.addStretch(1)
        return page

    # --- settings ---------------------------------------------------------------------------------

    def _on_tta_toggled(self, _checked: bool = False) -> None:
        chosen = [name for name, box in self.tta_boxes.items() if box.isChecked()]
        if chosen != list(self.project.config.evaluation.tta_augmentations):
            self.project.update("evaluation.tta_augmentations", chosen)

    def _on_project_changed(self, key: str) -> None:
        if key_affects(key, "evaluation.tta_augmentations"):
            self._sync_tta_boxes()

    def _sync_tta_boxes(self) -> None:
        chosen = set(self.project.config.evaluation.tta_augmentations)
        for name, box in self.tta_boxes.items():
            box.blockSignals(True)
            box.setChecked(name in chosen)
            box.blockSignals(False)
        self.options.setEnabled(True)

    # --- actions ----------------------------------------------------------------------------------

    def evaluate(self) -> None:
        run_dir = self.runs.current
        if not run_dir:
            self._update_state()
            return
        settings = self.project.config.evaluation
        self.evaluating = True
        self.error = ""
        self.cancelled = ""
        self._stop = threading.Event()  # a fresh one: a late cancel of the last evaluation must not reach this one
        self._update_state()
        self.tasks.submit("evaluate", jobs.run_test_evaluation, run_dir, list(settings.tta_augmentations), settings.tta_rule,
                          bool(settings.robustness), int(settings.gallery_size), self._stop,
                          label=self.tr("Evaluating on the test set"), on_result=self._on_result,
                          on_error=self._on_error, on_progress=self._on_progress, expected=EXPECTED_ERRORS)

    def cancel_evaluation(self) -> None:
        """Ask the running evaluation to stop; what it has finished is still shown (see run_test_evaluation)."""
        if self.evaluating:
            self._stop.set()
            self.cancel_button.setEnabled(False)
            self.busy_label.setText(self.tr("Cancelling…"))

    def evaluate_external(self, folder: str) -> None:
        """Evaluate the current run on a labelled folder (external validation)."""
        run_dir = self.runs.current
        if not run_dir or not folder:
            return
        settings = self.project.config.evaluation
        self.external_running = True
        self.error = ""
        self._update_state()
        self.tasks.submit("evaluate-external", jobs.run_external_evaluation, run_dir, folder,
                          list(settings.tta_augmentations), settings.tta_rule,
                          label=self.tr("Evaluating on the external set"), on_result=self._on_external,
                          on_error=self._on_error, on_progress=self._on_progress, expected=EXPECTED_ERRORS)

    def _choose_external(self) -> None:
        folder = dialogs.choose_folder(self, self.tr("Choose a folder of labelled images"))
        if folder:
            self.evaluate_external(folder)

    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.busy_label.setText(f"{message} {done}/{total}" if total else message)

    def _on_result(self, result: TestEvaluation) -> None:
        self.evaluating = False
        self.result = result
        self.error = ""
        caption = self.tr("{0} test images · model from epoch {1}").format(result.images, result.checkpoint_epoch)
        if result.all_test_uses > result.test_uses:  # as the banner counts: every run's looks, not this run's alone
            caption += self.tr(" · look {0} by this run, {1} at these test images in all").format(
                result.test_uses, result.all_test_uses)
        elif result.test_uses:
            caption += self.tr(" · look {0} at this test set").format(result.test_uses)
        if result.stored:
            caption += self.tr(" · stored result")
        if result.skipped:
            caption += self.tr(" · cancelled, not done: {0}").format(", ".join(result.skipped))
        self.test_panel.set_metrics(result.metrics, caption)
        self.val_panel.set_metrics(result.get("best_val_metrics", {}), self.tr("the epoch the run kept as best"))
        self._show_confusion()
        per_class = result.per_class
        self.class_table.setRowCount(len(per_class))
        for row, (name, values) in enumerate(per_class.items()):
            cells = [name, f"{values['precision']:.3f}", f"{values['recall']:.3f}", f"{values['f1']:.3f}",
                     str(values["support"])]
            set_row(self.class_table, row, cells)
        self.curves.set_curves(result.get("curves"))
        self.calibration.set_calibration(result.get("calibration"))
        self.gallery.set_items([p.as_item() for p in result.gallery or ()], "" if result.gallery is not None else
                               self.tr("The gallery was not requested; set its size above and evaluate again."))
        self.tta_view.set_comparison(result.tta)
        self.tabs.setTabVisible(self.tta_tab, bool(result.tta))
        self.robustness.set_table(result.robustness_table)
        self.tabs.setTabVisible(self.robustness_tab, bool(result.robustness_table))
        self.warning = result.warning
        self._update_state()

    def _on_external(self, result: ExternalEvaluation) -> None:
        self.external_running = False
        self.external = result
        self.external_panel.set_result(result)
        self.external_panel.show()
        self._update_state()

    def _show_confusion(self, *_: object) -> None:
        matrix = np.asarray(self.result.get("confusion_matrix", []) if self.result else [], dtype=float)
        if self.normalise.isChecked() and matrix.size:
            sums = matrix.sum(axis=1, keepdims=True)
            matrix = np.round(100 * np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0))
        self.heatmap.set_matrix(matrix.astype(int) if matrix.size else [], self.result.class_names if self.result else [])

    def _on_error(self, failure: TaskFailure) -> None:
        self.evaluating = False
        self.external_running = False
        if isinstance(failure.exception, InterruptedError):
            self.cancelled = self.tr("Evaluation cancelled before the test images were scored: the test set was not "
                                     "used and nothing was recorded.")
        else:
            self.error = failure.message
        self._update_state()

    def _on_current_run(self, run_dir: str) -> None:
        self.result = None
        self.external = None
        self.error = ""
        self.cancelled = ""
        self.warning = ""
        self._clear_results()
        self.attribution_panel.set_run(run_dir)
        if run_dir:
            self.tasks.submit("stored-evaluation", jobs.stored_test_evaluation, run_dir,
                              label=self.tr("Reading results"),
                              on_result=lambda r: self._on_result(r) if r and run_dir == self.runs.current else None)
        self._update_state()

    def _clear_results(self) -> None:
        self.test_panel.set_metrics({})
        self.val_panel.set_metrics({})
        self.heatmap.clear()
        self.class_table.setRowCount(0)
        self.curves.clear()
        self.calibration.clear()
        self.gallery.set_items([])
        self.tta_view.set_comparison(None)
        self.robustness.clear()
        self.external_panel.hide()

    def _update_state(self, *_: object) -> None:
        has_run = bool(self.runs.current)
        busy = self.evaluating or self.external_running
        self.evaluate_button.setEnabled(has_run and not busy)
        self.external_button.setEnabled(has_run and not busy)
        self.evaluate_button.setText(self.tr("Evaluating…") if self.evaluating else self.tr("Evaluate on test set"))
        self.busy.setVisible(busy)
        self.cancel_button.setVisible(self.evaluating)
        self.cancel_button.setEnabled(self.evaluating and not self._stop.is_set())
        if not busy:
            self.busy_label.setText("")
        self.attribution_panel.update_state()
        self.results.setVisible(self.result is not None)
        if not has_run:
            self.show_notice(self.tr("This step needs a trained model: finish (or stop) a run in the Train step "
                                     "first."), target="train")
        elif self.error:
            self.show_notice(self.tr("Evaluation failed: {0}").format(self.error), "error")
        elif self.cancelled and self.result is None:
            self.show_notice(self.cancelled, "info")
        elif self.result is not None and self.warning:
            self.show_notice(self.warning, "attention")
        else:
            self.clear_notice()
        self.status_changed.emit()

    def status(self) -> StepStatus:
        if not self.runs.current:
            return StepStatus(StepState.NOT_STARTED, self.tr("Needs a trained run"))
        if self.error:
            return StepStatus(StepState.ATTENTION, self.tr("Evaluation failed"))
        if self.result is None:
            return StepStatus(StepState.NOT_STARTED, self.tr("Not evaluated yet"))
        if self.warning:
            return StepStatus(StepState.ATTENTION, self.tr("Test set used again"))
        return StepStatus(StepState.READY, self.tr("Test accuracy {0}").format(percent(self.result.accuracy)))
