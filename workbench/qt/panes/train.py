"""Train step: start, pause, resume and stop a run, and watch its curves, progress, log and feature projection live.

"Cross-validate" runs the same settings once per validation fold (the engine's k-fold driver); each fold's
curves show live as for a single run, and a table collects the folds' best metrics and their mean ± std.
"""

from __future__ import annotations

import math
import time
from typing import Any

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
)

from workbench.qt import dialogs, doctor, jobs
from workbench.qt.panes.base import Pane, group
from workbench.qt.project_model import key_affects
from workbench.qt.widgets.curve_plot import CurvePlot
from workbench.qt.widgets.kfold_table import KFoldTable
from workbench.qt.widgets.projection_scatter import ProjectionView
from workbench.qt.widgets.step_list import StepState, StepStatus


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TrainPane(Pane):
    key = "train"
    title = "Train"
    subtitle = "Train the network and watch it learn. Pause or stop at any time; a stopped run can be resumed."

    def __init__(self, context, parent=None) -> None:
        super().__init__(context, parent)
        self.runner = context.runner
        self.dataset = context.dataset
        self.runs = context.runs
        self.tasks = context.tasks
        self.phase = "idle"  # idle, preparing, training, paused, stopping, completed, stopped, early_stopped, failed
        self.epochs = 0
        self.batches = 0
        self.last_epoch = 0
        self.failure = ""
        self._eta_origin: tuple[float, int] | None = None
        self._run_clock = 0.0
        self.fold = -1  # index of the fold being trained during a cross-validation, else -1
        self.k_fold_summary = ""
        self.k_fold_resume = ""  # kfold-*.json of a stopped cross-validation, which Resume continues
        self._build()
        runner = self.runner
        runner.running_changed.connect(self._update_buttons)
        runner.paused_changed.connect(self._on_paused)
        runner.run_started.connect(self._on_run_started)
        runner.stage.connect(self._on_stage)
        runner.batch.connect(self._on_batch)
        runner.epoch.connect(self._on_epoch)
        runner.checkpoint.connect(self._on_checkpoint)
        runner.finding.connect(self._on_finding)
        runner.projection.connect(self.projection.add)
        runner.log.connect(lambda e: self.append_log(e.message, e.level))
        runner.run_finished.connect(self._on_finished)
        runner.result.connect(self._on_result)
        runner.run_failed.connect(self._on_failed)
        runner.crashed.connect(self._on_crashed)
        runner.refused.connect(self._on_refused)
        self.dataset.changed.connect(self._update_notice)
        self.project.changed.connect(self._on_project_changed)
        self.runs.current_changed.connect(self._on_current_run)
        self._update_notice()
        self._update_kfold_button()
        self._update_buttons()

    # --- building ---------------------------------------------------------------------------------

    def _build(self) -> None:
        self.start_button = QPushButton(self.tr("Start training"))
        self.start_button.setObjectName("primary")
        self.pause_button = QPushButton(self.tr("Pause"))
        self.resume_button = QPushButton(self.tr("Resume"))
        self.stop_button = QPushButton(self.tr("Stop"))
        self.stop_button.setObjectName("danger")
        self.start_button.setShortcut("Ctrl+R")
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.runner.pause)
        self.resume_button.clicked.connect(self.resume)
        self.stop_button.clicked.connect(self.stop)
        self.kfold_button = QPushButton()
        self.kfold_button.setObjectName("kfoldButton")
        self.kfold_button.clicked.connect(self.start_k_fold)
        self.phase_label = QLabel(self.tr("Not started"))
        self.phase_label.setObjectName("phaseLabel")
        buttons = QHBoxLayout()
        for button in (self.start_button, self.kfold_button, self.pause_button, self.resume_button, self.stop_button):
            buttons.addWidget(button)
        buttons.addSpacing(16)
        buttons.addWidget(self.phase_label, 1)

        self.progress = QProgressBar()
        self.progress.setObjectName("trainProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat(self.tr("Waiting to start"))
        self.progress.setTextVisible(True)
        self.speed_label = QLabel("")
        self.speed_label.setObjectName("summary")
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 3)
        progress_row.addWidget(self.speed_label, 2)
        self.body_layout.addWidget(group(self.tr("Run"), buttons, progress_row))

        self.kfold_table = KFoldTable()
        self.kfold_note = QLabel("")
        self.kfold_note.setObjectName("summary")
        self.kfold_note.setWordWrap(True)
        self.kfold_group = group(self.tr("Cross-validation"), self.kfold_note, self.kfold_table)
        self.kfold_group.hide()
        self.body_layout.addWidget(self.kfold_group)

        self.loss_plot = CurvePlot(self.tr("Loss"), self.tr("cross-entropy"))
        self.loss_plot.add_series("train_batch", self.tr("training (per batch)"), "#b9c8f5", width=1.2)
        self.loss_plot.add_series("train", self.tr("training"), "blue", symbol="o")
        self.loss_plot.add_series("val", self.tr("validation"), "orange", symbol="s")
        self.loss_plot.add_series("pretrain", self.tr("pretraining (self-supervised)"), "purple", symbol="d", dashed=True)
        self.acc_plot = CurvePlot(self.tr("Accuracy"), self.tr("accuracy"), legend_corner="bottom-right")
        self.acc_plot.add_series("train", self.tr("training"), "blue", symbol="o")
        self.acc_plot.add_series("val", self.tr("validation"), "orange", symbol="s")
        self.acc_plot.add_series("val_balanced", self.tr("validation (balanced)"), "green", symbol="t", dashed=True)
        self.acc_plot.add_series("data_share", self.tr("share of training data in use"), "#9aa5b1", symbol="x",
                                 dashed=True)
        self.acc_plot.getPlotItem().setYRange(0, 1.02, padding=0)
        self.lr_plot = CurvePlot(self.tr("Learning rate"), self.tr("learning rate"))
        self.lr_plot.add_series("batch", self.tr("per batch"), "purple", width=1.5)
        self.lr_plot.add_series("epoch", self.tr("end of epoch"), "purple", symbol="o", width=0.5)
        self.lr_plot.legend.hide()
        plots = QGridLayout()
        plots.setHorizontalSpacing(12)
        plots.setVerticalSpacing(12)
        plots.addWidget(self.loss_plot, 0, 0)
        plots.addWidget(self.acc_plot, 0, 1)
        plots.addWidget(self.lr_plot, 1, 0)

        self.log_view = QPlainTextEdit()
        self.log_view.setObjectName("runLog")
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(5000)
        self.log_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        log_box = QVBoxLayout()
        title = QLabel(self.tr("Log"))
        title.setObjectName("plotTitle")
        font = QFont(title.font())
        font.setBold(True)
        title.setFont(font)
        log_box.addWidget(title)
        log_box.addWidget(self.log_view, 1)
        plots.addLayout(log_box, 1, 1)
        self.projection = ProjectionView()
        self.projection.setMinimumWidth(300)
        self.projection.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        plots.addWidget(self.projection, 0, 2, 2, 1)
        plots.setColumnStretch(0, 3)
        plots.setColumnStretch(1, 3)
        plots.setColumnStretch(2, 3)
        plots.setRowMinimumHeight(0, 250)
        plots.setRowMinimumHeight(1, 220)
        self.body_layout.addLayout(plots, 1)

    # --- commands ---------------------------------------------------------------------------------

    def start(self) -> bool:
        """Start a fresh run with the current settings."""
        if self.runner.is_running:
            self.runner.start(self.project.config)  # refused, with a message
            return False
        if not self.project.config.data.source:
            self._update_notice()
            self.show_notice(self.tr("Training needs a dataset: choose one in the Data step first."), target="data")
            return False
        self._clear_curves()
        self.failure = ""
        self.k_fold_resume = ""  # a new run replaces a stopped cross-validation as what Resume continues
        self.phase = "preparing"
        config = self.project.effective_config()
        self.append_log(self.tr("Starting a new run ({0}, {1} epochs, batch size {2}, learning rate {3:g})").format(
            config.model.architecture, config.training.epochs, config.training.batch_size, config.training.lr))
        started = self.runner.start(config)
        self._refresh_phase()
        return started

    def fold_count(self) -> int:
        """The k of a cross-validation: the Data step's number of folds, or 5 when none is set."""
        k = self.project.config.data.k_folds
        return k if k >= 2 else 5

    def start_k_fold(self) -> bool:
        """Cross-validate the current settings: one run per validation fold; the test split is never used."""
        if self.runner.is_running or not self.project.config.data.source:
            return self.start()  # the same refusal or "needs a dataset" message as a single run
        k = self.fold_count()
        config = self.project.effective_config()
        config = config.model_copy(update={"data": config.data.model_copy(update={"k_folds": k})})
        self._clear_curves()
        self.failure = ""
        self.phase = "preparing"
        self.fold = -1
        self.k_fold_summary = ""
        self.k_fold_resume = ""
        self.kfold_table.begin(k)
        self.kfold_note.setText(self.tr("{0} runs with the same settings, each validated on a different 1/{0} of the "
                                        "training pool; the locked test split is not used.").format(k))
        self.kfold_group.show()
        self.append_log(self.tr("Starting {0}-fold cross-validation ({1}, {2} epochs per fold)").format(
            k, config.model.architecture, config.training.epochs))
        started = self.runner.start(config, k_fold=True)
        self._refresh_phase()
        return started

    def resume(self) -> None:
        """Resume a paused run, or continue a stopped run (or cross-validation) from its checkpoint."""
        if self.runner.is_running:
            self.runner.resume()
            return
        if self.k_fold_resume:
            self._resume_k_fold()
            return
        run_dir = self.resumable_run()
        if not run_dir:
            return
        self.failure = ""
        self.phase = "preparing"
        self.append_log(self.tr("Continuing run {0} from its last checkpoint").format(run_dir))
        self.runner.start(self.project.effective_config(), resume=run_dir)
        self._refresh_phase()

    def stop(self) -> None:
        if self.runner.is_running:
            self.phase = "stopping"
            self.append_log(self.tr("Stopping after the current batch; a checkpoint will be saved"))
            self.runner.stop()
            self._refresh_phase()

    def _resume_k_fold(self) -> None:
        summary, self.k_fold_resume = self.k_fold_resume, ""
        self.failure = ""
        self.phase = "preparing"
        self.fold = self.kfold_table.reopen() - 1  # the next RunStarted is the first unfinished fold
        self.append_log(self.tr("Continuing the cross-validation from {0}").format(summary))
        self.runner.start(self.project.effective_config(), resume=summary, k_fold=True)
        self._refresh_phase()

    def resumable_run(self) -> str:
        """The folder of the stopped run that Resume continues, or ""."""
        if self.phase == "stopped" and self.runner.run_dir:
            return self.runner.run_dir
        current = self.runs.record(self.runs.current) if self.runs.current else None
        if self.phase in ("idle", "stopped") and current is not None and current.status == "stopped":
            return current.run_dir
        return ""

    # --- runner events ----------------------------------------------------------------------------

    def _on_run_started(self, event: Any) -> None:
        if self.runner.k_fold:
            self.fold += 1
            if self.fold > 0:
                self._clear_curves()  # each fold's curves start afresh; the table keeps the earlier folds
            self.kfold_table.fold_started(self.fold, event.run_id)
        self.phase = "paused" if self.runner.is_paused else "training"
        self.epochs, self.batches = event.epochs, max(event.batches_per_epoch, 1)
        self.last_epoch = event.resumed_from_epoch
        self._eta_origin = None
        self._run_clock = time.monotonic()
        self.projection.set_class_names(list(event.class_names))
        self._load_samples(event.run_dir)
        for plot in (self.loss_plot, self.acc_plot, self.lr_plot):
            plot.set_x_span(0, max(self.epochs, 1))
        self.progress.setRange(0, self.epochs * self.batches)
        self.progress.setValue(event.resumed_from_epoch * self.batches)
        splits = ", ".join(f"{k} {v}" for k, v in event.split_sizes.items())
        resumed = self.tr(", resumed after epoch {0}").format(event.resumed_from_epoch) if event.resumed_from_epoch \
            else ""
        self.append_log(self.tr("Run {0} on {1}: {2} classes ({3}), {4:,} parameters, input {5}{6}").format(
            event.run_id, event.device, event.num_classes, splits, event.parameter_count,
            "×".join(str(x) for x in event.input_shape), resumed))
        self._refresh_phase()

    def _on_stage(self, event: Any) -> None:
        if self.phase in ("preparing", "training") and event.total:
            names = {"scan": self.tr("Checking images"), "decode": self.tr("Decoding images")}
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.done)
            self.progress.setFormat(f"{names.get(event.stage, event.stage)}: {event.done:,} / {event.total:,}")

    def _on_batch(self, event: Any) -> None:
        x = event.epoch - 1 + event.batch / max(event.batches, 1)
        if getattr(event, "phase", "supervised") == "supervised":  # pretraining has its own epoch curve
            self.loss_plot.append("train_batch", x, event.loss)
            self.lr_plot.append("batch", x, event.lr)
        batches = max(event.batches, 1)
        done = (event.epoch - 1) * batches + event.batch
        total = max(self.epochs * batches, done)
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        text = self.tr("Epoch {0}/{1} · batch {2}/{3}").format(event.epoch, self.epochs, event.batch, batches)
        if self.runner.k_fold and self.fold >= 0:
            text = self.tr("Fold {0}/{1} · ").format(self.fold + 1, self.kfold_table.k) + text
        self.progress.setFormat(text)
        now = time.monotonic()
        if self._eta_origin is None:
            self._eta_origin = (now, done)
            eta = float("nan")
        else:
            t0, d0 = self._eta_origin
            rate = (done - d0) / max(now - t0, 1e-6)
            eta = (total - done) / rate if rate > 0 else float("nan")
        self.speed_label.setText(self.tr("{0:,.0f} images/s · ETA {1}").format(event.images_per_second,
                                                                              format_duration(eta)))

    def _on_epoch(self, event: Any) -> None:
        if getattr(event, "phase", "supervised") != "supervised":
            self.loss_plot.append("pretrain", event.epoch, event.train_loss)
            self.append_log(self.tr("Pretraining ({0}) epoch {1}/{2}: loss {3:.4f} ({4:.1f} s)").format(
                event.phase, event.epoch, event.epochs, event.train_loss, event.seconds))
            return
        self.last_epoch = event.epoch
        share = getattr(event, "data_fraction", 1.0)
        if share < 1.0 or self.acc_plot.series_length("data_share"):  # curriculum learning: show the pacing
            self.acc_plot.append("data_share", event.epoch, share)
        self.loss_plot.append("train", event.epoch, event.train_loss)
        self.loss_plot.append("val", event.epoch, event.val_loss)
        self.acc_plot.append("train", event.epoch, event.train_accuracy)
        self.acc_plot.append("val", event.epoch, event.metrics.get("accuracy", float("nan")))
        self.acc_plot.append("val_balanced", event.epoch, event.metrics.get("balanced_accuracy", float("nan")))
        self.lr_plot.append("epoch", event.epoch, event.lr)
        accuracy = event.metrics.get("accuracy", float("nan"))
        self.append_log(self.tr("Epoch {0}/{1}: training loss {2:.4f}, validation loss {3:.4f}, validation accuracy "
                                "{4:.1%} ({5:.1f} s){6}").format(event.epoch, event.epochs, event.train_loss,
                                                                 event.val_loss, accuracy, event.seconds,
                                                                 self.tr(" ★ best so far") if event.is_best else ""))
        self.status_changed.emit()

    def _on_checkpoint(self, event: Any) -> None:
        if event.kind == "stop":
            self.append_log(self.tr("Checkpoint saved at {0}; Resume continues from here").format(event.path))

    def _on_finding(self, event: Any) -> None:
        self.append_log(f"{event.title}: {event.explanation} {event.fix}".strip(), event.severity)

    def _on_finished(self, event: Any) -> None:
        self.phase = event.status
        words = {"completed": self.tr("Training finished"), "stopped": self.tr("Training stopped"),
                 "early_stopped": self.tr("Training stopped early (no more improvement)")}
        best = ", ".join(f"{k} {v:.4f}" for k, v in event.best_metrics.items() if isinstance(v, float))
        self.append_log(self.tr("{0} after {1} epoch(s); best epoch {2}{3}").format(
            words.get(event.status, event.status), event.epochs_run, event.best_epoch, f" ({best})" if best else ""))
        if self._run_clock:
            self.speed_label.setText(self.tr("Took {0}").format(format_duration(time.monotonic() - self._run_clock)))
        if event.run_dir:
            self.runs.refresh(select=event.run_dir)
        if self.runner.k_fold:
            self.kfold_table.fold_finished(self.fold, event.status, event.best_epoch, event.best_metrics)
        self._refresh_phase()

    def _on_result(self, result: Any) -> None:
        """The engine returned; for a cross-validation, show the folds' mean ± std."""
        if not hasattr(result, "folds"):
            return
        done = sum(1 for f in result.folds if f.status in ("completed", "early_stopped"))
        self.kfold_table.set_summary(dict(result.metrics), done)
        self.k_fold_summary = result.summary()
        self.k_fold_resume = str(result.summary_path) if result.status == "stopped" and result.summary_path else ""
        where = self.tr(" Summary saved in {0}.").format(result.summary_path) if result.summary_path else ""
        self.kfold_note.setText(self.tr("Cross-validation {0}: {1}.{2}").format(
            result.status, self.k_fold_summary, where))
        self.append_log(self.tr("Cross-validation {0}: {1}").format(result.status, self.k_fold_summary))
        self.status_changed.emit()

    def _on_failed(self, event: Any) -> None:
        if self.runner.stop_requested and not event.run_dir:
            # Stopped while the data was being prepared: nothing was trained, so nothing failed.
            self.phase = "idle"
            self.append_log(self.tr("Stopped before training began ({0})").format(event.reason))
            self._refresh_phase()
            return
        self.phase = "failed"
        self.failure = event.reason
        if self.runner.k_fold:
            self.kfold_table.fold_finished(self.fold, "failed", 0, {})
        self.append_log(self.tr("Training failed: {0}").format(event.reason), "error")
        self.show_notice(self.tr("Training failed: {0}").format(event.reason))
        if event.run_dir:
            self.runs.refresh()
        self._refresh_phase()

    def _on_crashed(self, message: str, details: str) -> None:
        self.phase = "failed"
        self.failure = message
        self.append_log(self.tr("Training crashed: {0}").format(message), "error")
        self.show_notice(self.tr("Training crashed: {0}").format(message))
        self._refresh_phase()

    def _on_refused(self, message: str) -> None:
        self.append_log(message, "warning")
        dialogs.show_error(self, self.tr("Training is already running"), message)

    def _on_paused(self, paused: bool) -> None:
        if self.runner.is_running and self.phase not in ("stopping",):
            self.phase = "paused" if paused else "training"
            self.append_log(self.tr("Paused; press Resume to continue") if paused else self.tr("Resumed"))
        self._refresh_phase()

    # --- restoring a previous run -----------------------------------------------------------------

    def _on_project_changed(self, key: str) -> None:
        """Another project was opened (or New): forget the last run's display unless one is still going."""
        if key_affects(key, "data"):
            self._update_kfold_button()
        if key == "" and not self.runner.is_running:
            self.phase = "idle"
            self.failure = ""
            self.k_fold_summary = ""
            self.k_fold_resume = ""
            self.kfold_group.hide()
            self._clear_curves()
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat(self.tr("Waiting to start"))
            self.speed_label.setText("")
            self._refresh_phase()

    def _on_current_run(self, run_dir: str) -> None:
        if self.runner.is_running or not run_dir or self.phase not in ("idle",):
            self._update_buttons()
            return
        self.tasks.submit("train-history", jobs.run_summary, run_dir, label=self.tr("Reading run"),
                          on_result=lambda summary: self._show_history(run_dir, summary))

    def _load_samples(self, run_dir: str) -> None:
        """The run's images (split.csv), for the projection's hover thumbnails (read in the background)."""
        if run_dir:
            self.tasks.submit("projection-samples", doctor.split_samples, run_dir, label=self.tr("Reading run"),
                              on_result=self.projection.set_samples, expected=(OSError, KeyError, ValueError),
                              on_error=lambda f: self.append_log(f.message, "warning"))

    def _show_history(self, run_dir: str, summary: dict) -> None:
        if self.runner.is_running or self.phase != "idle":
            return
        history = summary.get("history") or []
        self._clear_curves()
        for row in history:
            epoch = row.get("epoch")
            self.loss_plot.append("train", epoch, row.get("train_loss", math.nan))
            self.loss_plot.append("val", epoch, row.get("val_loss", math.nan))
            self.acc_plot.append("train", epoch, row.get("train_accuracy", math.nan))
            self.acc_plot.append("val", epoch, row.get("accuracy", math.nan))
            self.acc_plot.append("val_balanced", epoch, row.get("balanced_accuracy", math.nan))
            self.lr_plot.append("epoch", epoch, row.get("lr", math.nan))
        status = summary.get("status", "")
        if history:
            for plot in (self.loss_plot, self.acc_plot, self.lr_plot):
                plot.set_x_span(0, max(len(history), 1))
            self.last_epoch = history[-1].get("epoch", 0)
            self.append_log(self.tr("Showing the stored curves of run {0} ({1}, {2} epochs)").format(
                run_dir, status or "unknown", len(history)))
        self._update_buttons()
        self.status_changed.emit()

    # --- display ----------------------------------------------------------------------------------

    def _clear_curves(self) -> None:
        for plot in (self.loss_plot, self.acc_plot, self.lr_plot):
            plot.clear_data()
        self.projection.clear()
        self.last_epoch = 0

    def append_log(self, message: str, level: str = "info") -> None:
        prefix = time.strftime("%H:%M:%S")
        marker = {"warning": " ⚠", "error": " ✖", "problem": " ✖"}.get(level, "")
        self.log_view.appendPlainText(f"{prefix}{marker} {message}")
        self.ctx.log(level, message)

    def _refresh_phase(self) -> None:
        words = {
            "idle": self.tr("Not started"),
            "preparing": self.tr("Preparing data…"),
            "training": self.tr("Training"),
            "paused": self.tr("Paused"),
            "stopping": self.tr("Stopping…"),
            "completed": self.tr("Finished"),
            "stopped": self.tr("Stopped — Resume continues from the checkpoint"),
            "early_stopped": self.tr("Stopped early"),
            "failed": self.tr("Failed"),
        }
        self.phase_label.setText(words.get(self.phase, self.phase))
        self.phase_label.setProperty("phase", self.phase)
        self.phase_label.style().unpolish(self.phase_label)
        self.phase_label.style().polish(self.phase_label)
        if self.phase in ("completed", "early_stopped"):
            self.progress.setValue(self.progress.maximum())
            self.progress.setFormat(self.tr("Done: {0} epoch(s)").format(self.last_epoch))
        elif self.phase == "preparing":
            self.progress.setRange(0, 0)
        self._update_buttons()
        self.status_changed.emit()

    def _update_buttons(self, *_: object) -> None:
        running = self.runner.is_running
        paused = self.runner.is_paused
        self.start_button.setEnabled(not running)
        self.kfold_button.setEnabled(not running)
        self.pause_button.setEnabled(running and not paused and self.phase != "stopping")
        self.resume_button.setEnabled((running and paused) or (not running and bool(self.k_fold_resume or
                                                                                  self.resumable_run())))
        self.stop_button.setEnabled(running and self.phase != "stopping")
        self.resume_button.setToolTip(self.tr("Continue the paused run") if running else
                                      self.tr("Continue the stopped cross-validation: the stopped fold from its "
                                              "checkpoint, then the folds still to run") if self.k_fold_resume else
                                      self.tr("Continue the stopped run from its checkpoint"))
        if not running and self.phase in ("preparing", "training", "paused", "stopping"):
            self.phase = "idle"  # the thread ended without a final event (a crash); nothing is running any more
            self._refresh_phase()

    def _update_kfold_button(self) -> None:
        k = self.fold_count()
        self.kfold_button.setText(self.tr("Cross-validate ({0} folds)").format(k))
        self.kfold_button.setToolTip(self.tr(
            "Train {0} times with these settings, each time validating on a different fold of the training pool, "
            "and report each metric as mean ± standard deviation. The test split is never touched. The number of "
            "folds is set in the Data step.").format(k))

    def _update_notice(self) -> None:
        if not self.project.config.data.source:
            self.show_notice(self.tr("Training needs a dataset: choose one in the Data step first."), target="data")
        elif self.dataset.error:
            self.show_notice(self.tr("The dataset has a problem that training would hit too: {0}").format(
                self.dataset.error), target="data")
        elif not self.failure:
            self.clear_notice()
        self.status_changed.emit()

    def status(self) -> StepStatus:
        if not self.project.config.data.source:
            return StepStatus(StepState.NOT_STARTED, self.tr("Needs a dataset"))
        if self.phase in ("preparing", "training", "stopping"):
            return StepStatus(StepState.NOT_STARTED, self.tr("Running · epoch {0}/{1}").format(
                max(self.last_epoch, 0), self.epochs or "?"))
        if self.phase == "paused":
            return StepStatus(StepState.ATTENTION, self.tr("Paused"))
        if self.phase == "failed":
            return StepStatus(StepState.ATTENTION, self.tr("Run failed"))
        if self.phase == "stopped":
            return StepStatus(StepState.ATTENTION, self.tr("Stopped · can resume"))
        if self.k_fold_summary and self.phase in ("completed", "early_stopped"):
            return StepStatus(StepState.READY, self.tr("Cross-validated · {0} folds").format(self.kfold_table.k))
        if self.phase in ("completed", "early_stopped") or self.loss_plot.series_length("val"):
            return StepStatus(StepState.READY, self.tr("Trained · {0} epochs").format(self.last_epoch))
        return StepStatus(StepState.NOT_STARTED, self.tr("Not trained yet"))
