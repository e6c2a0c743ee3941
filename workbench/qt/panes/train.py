"""Train step: start, pause, resume and stop a run, and watch its curves, progress, log and feature projection live.

"Cross-validate" runs the same settings once per validation fold (the engine's k-fold driver); each fold's
curves show live as for a single run, and a table collects the folds' best metrics and their mean ± std.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy

from workbench.qt import dialogs, jobs
from workbench.qt.panes.base import Pane, group
from workbench.qt.panes.train_history import StoredRunMixin
from workbench.qt.panes.train_kfold import KFoldMixin
from workbench.qt.panes.train_text import (
    EtaClock,
    baseline_line,
    epoch_line,
    format_duration,
    phase_words,
    pointing_to_data,
    projection_schedule,
    stored_run_words,
    train_step_status,
)
from workbench.qt.run_phase import RunPhase
from workbench.qt.widgets.background_lines import BackgroundLines
from workbench.qt.widgets.kfold_table import KFoldTable
from workbench.qt.widgets.projection_scatter import ProjectionView
from workbench.qt.widgets.run_controls import RunControls, RunLog
from workbench.qt.widgets.step_list import StepStatus
from workbench.qt.widgets.training_curves import TrainingCurves

__all__ = ["TrainPane", "format_duration"]


class TrainPane(KFoldMixin, StoredRunMixin, Pane):
    key = "train"
    title = "Train"
    subtitle = "Train the network and watch it learn. Pause or stop at any time; a stopped run can be resumed."
    run_cleared = Signal()  # a run starts or resumes: what was shown of the last one is no longer current

    def __init__(self, context, parent=None) -> None:
        super().__init__(context, parent)
        self.runner = context.runner
        self.dataset = context.dataset
        self.runs = context.runs
        self.tasks = context.tasks
        self.phase = RunPhase.IDLE
        self.monitor = "val_loss"  # the run's training.monitor: what picks the best epoch (and the log's star)
        self.projection_every = 0
        self.stored_status = ""  # status of the stored run whose curves are shown while idle
        self.resume_offer = ""  # the banner's offer to continue the stored run, when it was stopped
        self.interrupted = ""  # a run of this project that was training when the app closed or crashed
        self.epochs = 0
        self.batches = 0
        self.last_epoch = 0
        self.failure = ""
        self._eta = EtaClock()
        self._run_clock = 0.0
        self._earlier_seconds = 0.0  # training time of a resumed run before its stop, so "Took" counts it all
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
        self.runs.changed.connect(self._on_runs_listed)
        self._update_notice()
        self._update_kfold_button()
        self._update_buttons()

    # --- building ---------------------------------------------------------------------------------

    def _build(self) -> None:
        self.controls = RunControls()
        c = self.controls
        self.start_button, self.kfold_button = c.start_button, c.kfold_button
        self.pause_button, self.resume_button, self.stop_button = c.pause_button, c.resume_button, c.stop_button
        self.phase_label, self.progress, self.speed_label = c.phase_label, c.progress, c.speed_label
        self.start_button.clicked.connect(self.start)
        self.kfold_button.clicked.connect(self.start_k_fold)
        self.pause_button.clicked.connect(self.runner.pause)
        self.resume_button.clicked.connect(self.resume)
        self.stop_button.clicked.connect(self.stop)
        self.background_lines = BackgroundLines(self.runner)  # the doctor's work beside and after training
        self.body_layout.addWidget(group(self.tr("Run"), c, self.background_lines))

        self.kfold_table = KFoldTable()
        self.kfold_note = QLabel("")
        self.kfold_note.setObjectName("summary")
        self.kfold_note.setWordWrap(True)
        self.kfold_group = group(self.tr("Cross-validation"), self.kfold_note, self.kfold_table)
        self.kfold_group.hide()
        self.body_layout.addWidget(self.kfold_group)

        self.curves = TrainingCurves()
        self.loss_plot, self.acc_plot, self.lr_plot = self.curves.plots
        self.run_log = RunLog()
        self.log_view = self.run_log.view
        self.curves.set_corner(self.run_log)
        self.projection = ProjectionView()
        self.projection.setMinimumWidth(300)
        self.projection.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        plots = QHBoxLayout()
        plots.setSpacing(12)
        plots.addWidget(self.curves, 2)
        plots.addWidget(self.projection, 1)
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
        config = self.project.effective_config()
        self._begin(config, fresh=True)
        self.k_fold_resume = ""  # a new run replaces a stopped cross-validation as what Resume continues
        self.append_log(self.tr("Starting a new run ({0}, {1} epochs, batch size {2}, learning rate {3:g})").format(
            config.model.architecture, config.training.epochs, config.training.batch_size, config.training.lr))
        started = self.runner.start(config)
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
        config = self.project.effective_config()
        self._begin(config, fresh=False)
        self.append_log(self.tr("Continuing run {0} from its last checkpoint").format(run_dir))
        self.runner.start(config, resume=run_dir)
        self._refresh_phase()

    def stop(self) -> None:
        if self.runner.is_running:
            self.phase = RunPhase.STOPPING
            self.append_log(self.tr("Stopping after the current batch; a checkpoint will be saved"))
            self.runner.stop()
            self._refresh_phase()

    def _begin(self, config: Any, fresh: bool) -> None:
        """What every start and resume shares: nothing of the last run's outcome stays on screen as current."""
        if fresh:
            self._clear_curves()
        else:
            self.projection.clear()  # the resumed run makes its own projection
        self.failure = ""
        self.stored_status = self.resume_offer = self.interrupted = ""
        self.clear_notice()
        self._update_notice()
        self.phase = RunPhase.PREPARING
        self.monitor = config.training.monitor
        self.projection_every = config.diagnostics.projection_every if config.diagnostics.enabled else -1
        self.progress.setRange(0, 0)
        self.progress.setFormat(self.tr("Preparing data…"))
        self.speed_label.setText("")
        self._earlier_seconds = 0.0
        self.run_cleared.emit()

    def resumable_run(self) -> str:
        """The folder of the stopped run that Resume continues, or ""."""
        if self.phase == RunPhase.STOPPED and jobs.is_resumable(self.runner.run_dir, "stopped"):
            return self.runner.run_dir
        current = self.runs.record(self.runs.current) if self.runs.current else None
        if self.phase in (RunPhase.IDLE, RunPhase.STOPPED) and current and jobs.is_resumable(current.run_dir, current.status):
            return current.run_dir
        return self.interrupted if self.phase == RunPhase.IDLE else ""

    # --- runner events ----------------------------------------------------------------------------

    def _on_run_started(self, event: Any) -> None:
        if self.runner.k_fold:
            self.fold += 1
            if self.fold > 0:
                self._clear_curves()  # each fold's curves start afresh; the table keeps the earlier folds
            self.kfold_table.fold_started(self.fold, event.run_id)
        self.phase = RunPhase.PAUSED if self.runner.is_paused else RunPhase.TRAINING
        self.epochs, self.batches = event.epochs, max(event.batches_per_epoch, 1)
        self.last_epoch = event.resumed_from_epoch
        self._eta = EtaClock()
        self._run_clock = time.monotonic()
        if event.resumed_from_epoch:  # "Took" counts the whole run: add the epochs trained before the stop
            self.tasks.submit("train-earlier-time", jobs.run_summary, event.run_dir, label=self.tr("Reading run"),
                              on_result=lambda s, e=event.resumed_from_epoch: self._on_earlier_summary(s, e))
        self.projection.set_class_names(list(event.class_names))
        self._show_projection_schedule()
        self._load_samples(event.run_dir)
        self.curves.set_x_span(0, max(self.epochs, 1))
        self.progress.setRange(0, self.epochs * self.batches)
        self.progress.setValue(event.resumed_from_epoch * self.batches)
        splits = ", ".join(f"{k} {v}" for k, v in event.split_sizes.items())
        resumed = self.tr(", resumed after epoch {0}").format(event.resumed_from_epoch) if event.resumed_from_epoch \
            else ""
        self.baselines = dict(getattr(event, "baselines", {}) or {})  # every score is read against them
        self.append_log(self.tr("Run {0} on {1}: {2} classes ({3}), {4:,} parameters, input {5}{6}").format(
            event.run_id, event.device, event.num_classes, splits, event.parameter_count,
            "×".join(str(x) for x in event.input_shape), resumed) + baseline_line(self.baselines))
        self._refresh_phase()

    def _on_stage(self, event: Any) -> None:
        if self.phase in (RunPhase.PREPARING, RunPhase.TRAINING) and event.total:
            names = {"scan": self.tr("Checking images"), "decode": self.tr("Decoding images")}
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.done)
            self.progress.setFormat(f"{names.get(event.stage, event.message or event.stage)}: "
                                    f"{event.done:,} / {event.total:,}")
        elif self.phase.active and event.message:  # a step without a count (end-of-run work): say what it is
            self.progress.setRange(0, 0)
            self.progress.setFormat(event.message)

    def _on_batch(self, event: Any) -> None:
        x = event.epoch - 1 + event.batch / max(event.batches, 1)
        if getattr(event, "phase", "supervised") == "supervised":  # pretraining has its own epoch curve
            self.curves.add_batch(x, event.loss, event.lr)
        batches = max(event.batches, 1)
        done = (event.epoch - 1) * batches + event.batch
        total = max(self.epochs * batches, done)
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        text = self.tr("Epoch {0}/{1} · batch {2}/{3}").format(event.epoch, self.epochs, event.batch, batches)
        if self.runner.k_fold and self.fold >= 0:
            text = self.tr("Fold {0}/{1} · ").format(self.fold + 1, self.kfold_table.k) + text
        self.progress.setFormat(text)
        eta = self._eta.remaining(done, total)
        self.speed_label.setText(self.tr("{0:,.0f} images/s · ETA {1}").format(event.images_per_second,
                                                                              format_duration(eta)))

    def _on_epoch(self, event: Any) -> None:
        if getattr(event, "phase", "supervised") != "supervised":
            self.curves.add_pretrain_epoch(event.epoch, event.train_loss)
            self.append_log(self.tr("Pretraining ({0}) epoch {1}/{2}: loss {3:.4f} ({4:.1f} s)").format(
                event.phase, event.epoch, event.epochs, event.train_loss, event.seconds))
            return
        self.last_epoch = event.epoch
        self.curves.add_data_share(event.epoch, getattr(event, "data_fraction", 1.0))
        self.curves.add_epoch(event.epoch, {**event.metrics, "train_loss": event.train_loss,
                                            "val_loss": event.val_loss, "train_accuracy": event.train_accuracy,
                                            "lr": event.lr})
        self.append_log(epoch_line(event, self.monitor, getattr(self, "baselines", {}).get("majority_accuracy")))
        if event.epoch >= event.epochs:  # the end-of-run work (final checks, projection, saving) has no batches
            self.progress.setRange(0, 0)
            self.progress.setFormat(self.tr("Finishing the run: final checks, projection and saving…"))
        self._show_projection_schedule()
        self.status_changed.emit()

    def _show_projection_schedule(self) -> None:
        if self.projection_every < 0:
            self.projection.set_waiting(self.tr("No projection: the doctor's checks are off for this run"))
        else:
            self.projection.set_waiting(projection_schedule(self.projection_every, self.last_epoch, self.epochs))

    def _on_checkpoint(self, event: Any) -> None:
        if event.kind == "stop":
            self.append_log(self.tr("Checkpoint saved at {0}; Resume continues from here").format(event.path))

    def _on_finding(self, event: Any) -> None:
        self.append_log(f"{event.title}: {event.explanation} {event.fix}".strip(), event.severity)

    def _on_finished(self, event: Any) -> None:
        self.phase = RunPhase.from_status(event.status)
        words = {"completed": self.tr("Training finished"), "stopped": self.tr("Training stopped"),
                 "early_stopped": self.tr("Training stopped early (no more improvement)")}
        best = ", ".join(f"{k} {v:.4f}" for k, v in event.best_metrics.items() if isinstance(v, float))
        self.append_log(self.tr("{0} after {1} epoch(s); best epoch {2}{3}").format(
            words.get(event.status, event.status), event.epochs_run, event.best_epoch, f" ({best})" if best else ""))
        if event.status == "stopped" and not self.projection.projections:
            self.projection.set_waiting(self.tr("No projection: the run stopped before its first one"))
        if self._run_clock:
            took = self._earlier_seconds + time.monotonic() - self._run_clock
            self.speed_label.setText(self.tr("Took {0}").format(format_duration(took)))
        if event.run_dir:
            self.runs.refresh(select=event.run_dir)
        if self.runner.k_fold:
            self.kfold_table.fold_finished(self.fold, event.status, event.best_epoch, event.best_metrics)
        self._refresh_phase()

    def _on_failed(self, event: Any) -> None:
        if self.runner.stop_requested and not event.run_dir:
            # Stopped while the data was being prepared: nothing was trained, so nothing failed.
            self.phase = RunPhase.IDLE
            self.append_log(self.tr("Stopped before training began ({0})").format(event.reason))
            self._refresh_phase()
            return
        self.phase = RunPhase.FAILED
        self.failure = event.reason
        if self.runner.k_fold:
            self.kfold_table.fold_finished(self.fold, "failed", 0, {})
        self.append_log(self.tr("Training failed: {0}").format(event.reason), "error")
        if "not on this computer" in event.reason:  # pretrained weights offline: one way on is a local file
            self.show_notice(event.reason, target="strategy", button=self.tr("Choose a local weights file"))
        else:
            self.show_notice(self.tr("Training failed: {0}").format(pointing_to_data(event.reason)))
        if event.run_dir:
            self.runs.refresh()
        self._refresh_phase()

    def _on_crashed(self, message: str, details: str) -> None:
        self.phase = RunPhase.FAILED
        self.failure = message
        self.append_log(self.tr("Training crashed: {0}").format(message), "error")
        self.show_notice(self.tr("Training crashed: {0}").format(message))
        self._refresh_phase()

    def _on_refused(self, message: str) -> None:
        self.append_log(message, "warning")
        dialogs.show_error(self, self.tr("Training is already running"), message)

    def _on_paused(self, paused: bool) -> None:
        if self.runner.is_running and self.phase != RunPhase.STOPPING:
            self.phase = RunPhase.PAUSED if paused else RunPhase.TRAINING
            self.append_log(self.tr("Paused; press Resume to continue") if paused else self.tr("Resumed"))
        self._refresh_phase()

    # --- display ----------------------------------------------------------------------------------

    def _clear_curves(self) -> None:
        self.curves.clear()
        self.projection.clear()
        self.last_epoch = 0

    def append_log(self, message: str, level: str = "info") -> None:
        self.run_log.append(message, level)
        self.ctx.log(level, message)

    def _refresh_phase(self) -> None:
        stored = self.phase == RunPhase.IDLE and self.stored_status and self.curves.epochs_shown()
        self.phase_label.setText(stored_run_words(self.stored_status, self.last_epoch) if stored
                                 else phase_words(self.phase))
        self.phase_label.setProperty("phase", self.stored_status if stored else str(self.phase))
        self.phase_label.style().unpolish(self.phase_label)
        self.phase_label.style().polish(self.phase_label)
        if self.phase.finished:
            self.progress.setRange(0, max(self.progress.maximum(), 1))
            self.progress.setValue(self.progress.maximum())
            self.progress.setFormat(self.tr("Done: {0} epoch(s)").format(self.last_epoch))
        elif self.phase == RunPhase.PREPARING:
            self.progress.setRange(0, 0)
        elif not self.phase.active and self.progress.maximum() == 0:
            # A busy bar must never keep moving once nothing runs (a failed or refused start).
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat(phase_words(self.phase) if self.phase != RunPhase.IDLE else
                                    self.tr("Waiting to start"))
        self._update_buttons()
        self.status_changed.emit()

    def _update_buttons(self, *_: object) -> None:
        running = self.runner.is_running
        paused = self.runner.is_paused
        self.start_button.setEnabled(not running)
        self.kfold_button.setEnabled(not running)
        self.pause_button.setEnabled(running and not paused and self.phase != RunPhase.STOPPING)
        self.resume_button.setEnabled((running and paused) or (not running and bool(self.k_fold_resume or
                                                                                  self.resumable_run())))
        self.stop_button.setEnabled(running and self.phase != RunPhase.STOPPING)
        self.resume_button.setToolTip(self.tr("Continue the paused run") if running else
                                      self.tr("Continue the stopped cross-validation: the stopped fold from its "
                                              "checkpoint, then the folds still to run") if self.k_fold_resume else
                                      self.tr("Continue the stopped run from its checkpoint"))
        if not running and self.phase.active:
            self.phase = RunPhase.IDLE  # the thread ended without a final event (a crash); nothing is running any more
            self._refresh_phase()

    def status(self) -> StepStatus:
        return train_step_status(self)
