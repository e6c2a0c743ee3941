"""Evaluate step: measure the trained model on the locked test set, on request only.

Besides the headline metrics, the pane shows the confusion matrix (counts or row shares), one-vs-rest
ROC and precision-recall curves, the reliability diagram, the most confident errors with saliency
overlays, test-time augmentation beside the plain prediction, the robustness check, and external
validation on a folder of labelled images, reported apart from the internal test, and what the model
looks at: per-class mean attribution maps on validation images with the shortcut check (section II-E).
Every evaluation runs as a background task; the functions at the top are what those tasks run (the
engine is imported inside).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

from workbench.core.config import ConfigError
from workbench.core.data.errors import DatasetError
from workbench.qt import dialogs
from workbench.qt.panes.base import Pane, group, hint
from workbench.qt.project_model import key_affects
from workbench.qt.tasks import TaskFailure
from workbench.qt.widgets.attribution_maps import AttributionMapsView
from workbench.qt.widgets.calibration_plot import ReliabilityPlot
from workbench.qt.widgets.confusion_heatmap import ConfusionHeatmap
from workbench.qt.widgets.forms import Choice, ConfigForm, FieldSpec
from workbench.qt.widgets.gallery import ErrorGallery
from workbench.qt.widgets.robustness_plot import RobustnessView
from workbench.qt.widgets.roc_plot import RocPrPlots
from workbench.qt.widgets.run_picker import RunPicker
from workbench.qt.widgets.step_list import StepState, StepStatus
from workbench.qt.widgets.tables import read_only_table, set_row
from workbench.qt.widgets.tta_table import TtaComparison

if TYPE_CHECKING:
    from workbench.qt.tasks import TaskContext

HEADLINE = (("accuracy", "Accuracy"), ("balanced_accuracy", "Balanced accuracy"), ("macro_f1", "Macro F1"),
            ("weighted_f1", "Weighted F1"))


TTA_CHOICES = (("hflip", "Horizontal flip"), ("vflip", "Vertical flip"), ("rot90", "90° rotations"),
               ("shift", "Small shifts"), ("rotate", "Small rotations"), ("zoom", "Zoom"))
EXPECTED_ERRORS = (ConfigError, DatasetError, FileNotFoundError, ValueError, InterruptedError)


# --- background work (runs on a worker thread) ------------------------------------------------------


def _with_pictures(run_dir: str, result: dict[str, Any]) -> dict[str, Any]:
    """Add what the evaluation saved beside its metrics: the gallery pictures and the full robustness table."""
    from PIL import Image

    from workbench.core.evaluation import storage
    from workbench.core.runs import read_json

    folder = Path(run_dir)
    result = dict(result)
    if result.get("robustness"):
        result["robustness_table"] = read_json(storage.robustness_path(folder, "test"), None) or result["robustness"]
    pictures = []
    for item in result.get("gallery") or []:
        path = storage.gallery_dir(folder, "test") / item.get("png", "")
        try:
            with Image.open(path) as image:
                strip = np.asarray(image.convert("RGB"))
        except OSError:
            strip = np.zeros((0, 0, 3), np.uint8)
        pictures.append({**item, "strip": strip})
    result["gallery"] = pictures
    return result


def run_test_evaluation(run_dir: str, tta: list[str], tta_rule: str, robustness: bool, gallery: int,
                        stop: threading.Event, context: TaskContext) -> dict[str, Any]:
    """One recorded use of the test set with the chosen extras; see `evaluate_run`. Setting `stop` cancels:
    before scoring with InterruptedError (nothing recorded), after it by skipping the extras still to come."""
    from workbench.core.evaluation.evaluate import evaluate_run

    result = evaluate_run(run_dir, "test", tta=tta, tta_rule=tta_rule, robustness=robustness, gallery=gallery,
                          progress=lambda done, total: context.progress(done, total, "Reading the test images"),
                          should_stop=lambda: stop.is_set() or context.should_stop())
    return _with_pictures(run_dir, result)


def stored_test_evaluation(run_dir: str) -> dict[str, Any] | None:
    """The last saved test evaluation with its pictures (reading it is not a use of the test set)."""
    from workbench.core.evaluation.storage import load_metrics

    stored = load_metrics(Path(run_dir), "test")
    return _with_pictures(run_dir, stored) if stored else None


def run_external_evaluation(run_dir: str, folder: str, tta: list[str], tta_rule: str,
                            context: TaskContext) -> dict[str, Any]:
    from workbench.core.evaluation.external import evaluate_external

    return evaluate_external(run_dir, folder, tta=tta, tta_rule=tta_rule,
                             progress=lambda done, total: context.progress(done, total, "Reading the images"))


METHOD_NAMES = {"occlusion": "Occlusion", "gradcam": "Grad-CAM", "integrated_gradients": "Integrated gradients"}


def _attribution_payload(result: Any) -> dict[str, Any]:
    """An engine AttributionResult as plain data for the GUI thread: arrays, finding dicts and a caption."""
    findings = [{"class": f.evidence.get("class", ""), "severity": f.severity, "title": f.title,
                 "explanation": f.explanation, "fix": f.fix} for f in result.findings]
    counts = [int(s.get("images", 0)) for s in result.stats.values() if isinstance(s, dict) and s.get("images")]
    method = METHOD_NAMES.get(result.method, result.method)
    if result.split == "train":
        caption = "Computed at the end of training, on training images; recompute to see the validation images."
    else:
        images = (f"{min(counts)}–{max(counts)}" if min(counts) != max(counts) else str(counts[0])) if counts else "some"
        caption = f"{method or 'Attributions'} on {images} correctly predicted validation images per class."
    if result.skipped:
        caption += f" No map for {', '.join(result.skipped)}: fewer than 3 of their images were predicted correctly."
    return {"class_names": list(result.class_names), "maps": result.maps, "mean_images": result.mean_images,
            "findings": findings, "caption": caption, "split": result.split, "method": result.method}


def stored_attribution_maps(run_dir: str) -> dict[str, Any] | None:
    """The attribution maps saved in the run's diagnostics folder (by the training monitor or on request), if any."""
    from workbench.core.diagnostics.run_attributions import load_attribution_result

    result = load_attribution_result(run_dir)
    return _attribution_payload(result) if result is not None else None


def compute_attribution_maps(run_dir: str, context: TaskContext) -> dict[str, Any]:
    """Per-class mean attribution maps and the shortcut check on the run's validation images (saved with the run)."""
    from workbench.core.diagnostics.run_attributions import attribution_maps_for_run

    result = attribution_maps_for_run(run_dir, progress=lambda stage, done, total: context.progress(done, total, stage),
                                      should_stop=context.should_stop)
    return _attribution_payload(result)


# --- widgets ----------------------------------------------------------------------------------------


def _percent(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) and value == value else "–"


class MetricsPanel(QWidget):
    """A column of big headline numbers with a title."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("metricsPanel")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel(f"<b>{title}</b>")
        self.caption = hint("")
        layout.addWidget(self.title)
        layout.addWidget(self.caption)
        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(6)
        self.values: dict[str, QLabel] = {}
        self.intervals: dict[str, QLabel] = {}
        self.interval_header = QLabel("")
        self.interval_header.setObjectName("factName")
        grid.addWidget(self.interval_header, 0, 2)
        for row, (key, label) in enumerate(HEADLINE, start=1):
            name = QLabel(self.tr(label))
            name.setObjectName("factName")
            value = QLabel("–")
            value.setObjectName("bigNumber")
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            interval = QLabel("")
            interval.setObjectName("factName")
            grid.addWidget(name, row, 0)
            grid.addWidget(value, row, 1)
            grid.addWidget(interval, row, 2)
            self.values[key] = value
            self.intervals[key] = interval
        layout.addLayout(grid)
        layout.addStretch(1)

    def set_metrics(self, metrics: dict[str, Any], caption: str = "") -> None:
        """Headline numbers, with their bootstrap 95 % intervals when the metrics carry them."""
        intervals = metrics.get("confidence_intervals") or {}
        self.interval_header.setText(self.tr("95 % CI") if intervals else "")
        self.interval_header.setToolTip(self.tr("Bootstrap confidence intervals over the test images"))
        for key, label in self.values.items():
            label.setText(_percent(metrics.get(key)))
            ci = intervals.get(key) or {}
            low, high = ci.get("low"), ci.get("high")
            has_ci = isinstance(low, float) and isinstance(high, float) and low == low and high == high
            self.intervals[key].setText(f"{100 * low:.1f}–{100 * high:.1f}" if has_ci else "")
            self.intervals[key].setToolTip(self.tr("95 % bootstrap confidence interval") if has_ci else "")
        self.caption.setText(caption)


class ExternalPanel(QWidget):
    """External validation: metrics on a separate labelled folder, beside the stored internal test score."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(24)
        self.metrics = MetricsPanel(self.tr("External set"))
        self.comparison = QLabel()
        self.comparison.setObjectName("summary")
        self.comparison.setWordWrap(True)
        self.comparison.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.heatmap = ConfusionHeatmap()
        self.heatmap.setMinimumSize(260, 240)
        left = QVBoxLayout()
        left.addWidget(self.metrics)
        left.addWidget(self.comparison)
        left.addStretch(1)
        layout.addLayout(left, 1)
        layout.addWidget(self.heatmap, 1)

    def set_result(self, result: dict[str, Any]) -> None:
        note = self.tr("{0} images from {1}").format(result.get("images", result.get("support", "?")),
                                                     result.get("source", result.get("name", "")))
        self.metrics.set_metrics(result, note)
        internal = result.get("internal_test") or {}
        lines = []
        for key, label in HEADLINE[:3]:
            if key in internal and key in result:
                lines.append(self.tr("{0}: external {1}, internal test {2} ({3:+.1f} pp)").format(
                    self.tr(label), _percent(result[key]), _percent(internal[key]),
                    100 * (result[key] - internal[key])))
        if not internal:
            lines.append(self.tr("The internal test set has not been evaluated yet, so there is nothing to compare."))
        if result.get("overlap_with_run"):
            lines.append("<span style='color:#b45309'>" + self.tr(
                "{0} of these images are in this run's own dataset, so this is not an independent check.").format(
                result["overlap_with_run"]) + "</span>")
        if result.get("missing_classes"):
            lines.append(self.tr("Classes with no images here: {0}").format(", ".join(result["missing_classes"])))
        self.comparison.setText("<br>".join(lines))
        self.heatmap.set_matrix(result.get("confusion_matrix", []), result.get("class_names", []))


class EvaluatePane(Pane):
    key = "evaluate"
    title = "Evaluate"
    subtitle = "Measure the finished model on the test set it has never seen. Do this once you have stopped tuning."

    def __init__(self, context, parent=None) -> None:
        super().__init__(context, parent)
        self.runs = context.runs
        self.tasks = context.tasks
        self.runner = context.runner
        self.result: dict[str, Any] | None = None
        self.external: dict[str, Any] | None = None
        self.error = ""
        self.cancelled = ""  # why the last evaluation ended without a result, when it was cancelled
        self.warning = ""
        self.evaluating = False
        self.external_running = False
        self.attributions: dict[str, Any] | None = None  # what the maps view shows (see `_attribution_payload`)
        self.attributions_running = False
        self.attributions_error = ""
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
        self.tabs.addTab(self._build_summary(), self.tr("Summary"))
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
        self.body_layout.addWidget(self._build_attributions())
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
        for i, (name, label) in enumerate(TTA_CHOICES):
            check = QCheckBox(self.tr(label))
            check.setObjectName(f"tta_{name}")
            check.toggled.connect(self._on_tta_toggled)
            grid.addWidget(check, i // 3, i % 3)
            self.tta_boxes[name] = check
        tta.addLayout(grid)
        tta.addStretch(1)
        self.options = ConfigForm(self.project, "evaluation", [
            FieldSpec("tta_rule", label=self.tr("Combine views by"),
                      choices=(Choice("mean", self.tr("mean probability")), Choice("vote", self.tr("majority vote")))),
            FieldSpec("robustness", label=self.tr("Robustness check"),
                      tooltip=self.tr("Also score perturbed copies of the test images (noise, blur, shift, "
                                      "rotation, brightness, contrast, JPEG). Takes longer.")),
            FieldSpec("gallery_size", label=self.tr("Misclassified gallery"), suffix=self.tr(" images")),
        ])
        layout.addLayout(tta, 3)
        layout.addWidget(self.options, 2)
        return box

    def _build_summary(self) -> QWidget:
        self.test_panel = MetricsPanel(self.tr("Test set"))
        self.val_panel = MetricsPanel(self.tr("Validation, best epoch"))
        metrics_row = QHBoxLayout()
        metrics_row.setSpacing(32)
        metrics_row.addWidget(self.test_panel, 1)
        metrics_row.addWidget(self.val_panel, 1)
        self.heatmap = ConfusionHeatmap()
        self.normalise = QCheckBox(self.tr("Show row shares (% of each true class)"))
        self.normalise.setObjectName("normaliseConfusion")
        self.normalise.toggled.connect(self._show_confusion)
        self.class_table = read_only_table([self.tr("Class"), self.tr("Precision"), self.tr("Recall"), self.tr("F1"),
                                            self.tr("Test images")])
        self.class_table.setMinimumHeight(180)
        left = QVBoxLayout()
        left.setSpacing(14)
        left.addWidget(group(self.tr("Overall"), metrics_row))
        left.addWidget(group(self.tr("Per class (test set)"), self.class_table), 1)
        layout = QHBoxLayout()
        layout.setContentsMargins(0, 10, 0, 0)
        layout.setSpacing(14)
        layout.addLayout(left, 1)
        layout.addWidget(group(self.tr("Confusion matrix (test set)"), self.normalise, self.heatmap), 1)
        page = QWidget()
        page.setLayout(layout)
        return page

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

    def _build_attributions(self) -> QWidget:
        self.attribution_button = QPushButton(self.tr("Compute attribution maps"))
        self.attribution_button.setObjectName("attributionButton")
        self.attribution_button.clicked.connect(self.compute_attributions)
        self.attribution_note = hint(self.tr(
            "For each class, where the model looked in correctly predicted validation images (the test set stays "
            "locked). A class whose map is one small bright spot, or the border, rather than the object may rest on a "
            "shortcut such as a marker or a watermark."))
        self.attribution_progress = hint("")
        self.attribution_error = QLabel()
        self.attribution_error.setObjectName("fieldError")
        self.attribution_error.setWordWrap(True)
        self.attribution_error.hide()
        row = QHBoxLayout()
        row.addWidget(self.attribution_note, 1)
        row.addWidget(self.attribution_progress, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.attribution_button, 0, Qt.AlignmentFlag.AlignTop)
        self.attribution_view = AttributionMapsView()
        self.attribution_view.hide()
        return group(self.tr("What the model looks at (validation images)"), row, self.attribution_error,
                     self.attribution_view)

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
        self.tasks.submit("evaluate", run_test_evaluation, run_dir, list(settings.tta_augmentations), settings.tta_rule,
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
        self.tasks.submit("evaluate-external", run_external_evaluation, run_dir, folder,
                          list(settings.tta_augmentations), settings.tta_rule,
                          label=self.tr("Evaluating on the external set"), on_result=self._on_external,
                          on_error=self._on_error, on_progress=self._on_progress, expected=EXPECTED_ERRORS)

    def compute_attributions(self) -> None:
        """Compute the current run's attribution maps on its validation images, in the background."""
        run_dir = self.runs.current
        if not run_dir:
            return
        self.attributions_running = True
        self.attributions_error = ""
        self.attribution_progress.setText(self.tr("Starting…"))
        self._update_attribution_state()
        self.tasks.submit("attribution-maps", compute_attribution_maps, run_dir,
                          label=self.tr("Computing attribution maps"), on_result=self._on_attributions,
                          on_error=self._on_attribution_error, on_progress=self._on_attribution_progress,
                          expected=EXPECTED_ERRORS)

    def _on_attributions(self, payload: dict[str, Any]) -> None:
        self.attributions_running = False
        self._show_attributions(payload)

    def _on_stored_attributions(self, payload: dict[str, Any] | None) -> None:
        if payload is not None and not self.attributions_running:  # a computation under way will replace them
            self._show_attributions(payload)

    def _show_attributions(self, payload: dict[str, Any]) -> None:
        self.attributions = payload
        self.attributions_error = ""
        self.attribution_view.set_maps(payload["class_names"], payload["maps"], payload.get("mean_images"),
                                       payload.get("findings", []), payload.get("caption", ""))
        self._update_attribution_state()

    def _on_attribution_error(self, failure: TaskFailure) -> None:
        self.attributions_running = False
        self.attributions_error = failure.message
        self._update_attribution_state()

    def _on_attribution_progress(self, done: int, total: int, message: str) -> None:
        self.attribution_progress.setText(f"{message} {done}/{total}" if total else message)

    def _update_attribution_state(self) -> None:
        has_run = bool(self.runs.current)
        self.attribution_button.setEnabled(has_run and not self.attributions_running)
        if self.attributions_running:
            self.attribution_button.setText(self.tr("Computing…"))
        elif self.attributions is not None and self.attributions.get("split") == "val":
            self.attribution_button.setText(self.tr("Recompute"))
        else:
            self.attribution_button.setText(self.tr("Compute attribution maps"))
        if not self.attributions_running:
            self.attribution_progress.setText("")
        self.attribution_error.setText(self.tr("Could not compute the attribution maps: {0}").format(
            self.attributions_error) if self.attributions_error else "")
        self.attribution_error.setVisible(bool(self.attributions_error))
        self.attribution_view.setVisible(self.attributions is not None)

    def _choose_external(self) -> None:
        folder = dialogs.choose_folder(self, self.tr("Choose a folder of labelled images"))
        if folder:
            self.evaluate_external(folder)

    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.busy_label.setText(f"{message} {done}/{total}" if total else message)

    def _on_result(self, result: dict[str, Any], stored: bool = False) -> None:
        self.evaluating = False
        self.result = result
        self.error = ""
        epoch = result.get("checkpoint_epoch")
        count = result.get("images") or result.get("support") or sum(
            v.get("support", 0) for v in result.get("per_class", {}).values())
        caption = self.tr("{0} test images · model from epoch {1}").format(count, epoch)
        uses = result.get("test_uses")
        if uses:
            caption += self.tr(" · look {0} at this test set").format(uses)
        if stored:
            caption += self.tr(" · stored result")
        if result.get("skipped"):
            caption += self.tr(" · cancelled, not done: {0}").format(", ".join(result["skipped"]))
        self.test_panel.set_metrics(result, caption)
        self.val_panel.set_metrics(result.get("best_val_metrics", {}), self.tr("the epoch the run kept as best"))
        self._show_confusion()
        per_class = result.get("per_class", {})
        self.class_table.setRowCount(len(per_class))
        for row, (name, values) in enumerate(per_class.items()):
            cells = [name, f"{values['precision']:.3f}", f"{values['recall']:.3f}", f"{values['f1']:.3f}",
                     str(values["support"])]
            set_row(self.class_table, row, cells)
        self.curves.set_curves(result.get("curves"))
        self.calibration.set_calibration(result.get("calibration"))
        gallery = result.get("gallery") or []
        self.gallery.set_items(gallery, "" if result.get("gallery") is not None else self.tr(
            "The gallery was not requested; set its size above and evaluate again."))
        self.tta_view.set_comparison(result.get("tta"))
        self.tabs.setTabVisible(self.tta_tab, bool(result.get("tta")))
        self.robustness.set_table(result.get("robustness_table"))
        self.tabs.setTabVisible(self.robustness_tab, bool(result.get("robustness_table")))
        self.warning = result.get("warning") or ""
        self._update_state()

    def _on_external(self, result: dict[str, Any]) -> None:
        self.external_running = False
        self.external = result
        self.external_panel.set_result(result)
        self.external_panel.show()
        self._update_state()

    def _show_confusion(self, *_: object) -> None:
        matrix = np.asarray((self.result or {}).get("confusion_matrix", []), dtype=float)
        if self.normalise.isChecked() and matrix.size:
            sums = matrix.sum(axis=1, keepdims=True)
            matrix = np.round(100 * np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0))
        self.heatmap.set_matrix(matrix.astype(int) if matrix.size else [], (self.result or {}).get("class_names", []))

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
        self.tasks.cancel("attribution-maps")  # maps of the previous run must not land on this one
        self.attributions = None
        self.attributions_running = False
        self.attributions_error = ""
        self.attribution_view.clear()
        if run_dir:
            self.tasks.submit("stored-evaluation", stored_test_evaluation, run_dir, label=self.tr("Reading results"),
                              on_result=lambda r: self._on_result(r, stored=True) if r else None)
            self.tasks.submit("stored-attributions", stored_attribution_maps, run_dir,
                              label=self.tr("Reading attribution maps"), on_result=self._on_stored_attributions)
        else:
            self.tasks.cancel("stored-attributions")
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
        self._update_attribution_state()
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
        return StepStatus(StepState.READY, self.tr("Test accuracy {0}").format(_percent(self.result.get("accuracy"))))
