"""A stored run in the Train pane: its curves when it is picked, and what a new project clears.

A mixin of `TrainPane`: while nothing trains, the pane shows the current run's stored curves (through the same
`TrainingCurves.add_epoch` as live training) and says that it is a stored run, not a current one.
"""

from __future__ import annotations

from pathlib import Path

from workbench.qt import doctor, jobs
from workbench.qt.panes.train_text import pointing_to_data
from workbench.qt.project_model import key_affects
from workbench.qt.run_phase import RunPhase


class StoredRunMixin:
    """Show the current run's stored history (and offer to resume it when it was stopped); keep the banner true to
    the dataset, the last failure and that offer; forget everything of the last run when the project changes."""

    # --- restoring a previous run -----------------------------------------------------------------

    def _on_project_changed(self, key: str) -> None:
        """Another project was opened (or New): forget the last run's display unless one is still going."""
        if key_affects(key, "data"):
            self._update_kfold_button()
        if key_affects(key, "data.source") and not self.runner.is_running and self.failure:
            self.failure = ""  # a failure on the last dataset says nothing about this one
            self.clear_notice()
            self._update_notice()
        if key == "" and not self.runner.is_running:
            self.phase = RunPhase.IDLE
            self.failure = ""
            self.stored_status = self.resume_offer = self.interrupted = ""
            self.k_fold_summary = ""
            self.k_fold_resume = ""
            self.kfold_group.hide()
            self._clear_curves()
            self._reset_progress()
            self._update_notice()
            self._refresh_phase()

    def _reset_progress(self) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat(self.tr("Waiting to start"))
        self.speed_label.setText("")

    def _on_current_run(self, run_dir: str) -> None:
        if self.runner.is_running or self.phase != RunPhase.IDLE:
            self._update_buttons()
            return
        if not self.interrupted:  # an interrupted run's offer stays: it is not the current (usable) run
            self.resume_offer = ""
        if not run_dir:  # no run (a new project, or its runs were deleted): show none
            self.stored_status = ""
            self._clear_curves()
            self._update_notice()
            self._refresh_phase()
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
        if self.runner.is_running or self.phase != RunPhase.IDLE or run_dir != self.runs.current:
            return
        self._clear_curves()
        shown = self.curves.show_history(summary.get("history") or [])
        self.stored_status = summary.get("status", "") or "unknown"
        self.projection.set_waiting(self.tr("The projection is shown while a run trains"))
        if shown:
            self.last_epoch = max(int(row.get("epoch", 0)) for row in summary["history"])
            self.append_log(self.tr("Showing the stored curves of run {0} ({1}, {2} epochs)").format(
                run_dir, self.stored_status, shown))
        if self.resumable_run() == run_dir:
            self.resume_offer = self.tr("Run {0} was stopped after epoch {1}. Resume continues it from its last "
                                        "checkpoint; Start training begins a new run.").format(
                Path(run_dir).name, self.last_epoch)
        self._update_notice()
        self._refresh_phase()

    def _on_runs_listed(self) -> None:
        """Offer to resume a run of this project that was training when the app closed or crashed."""
        if self.runner.is_running or self.phase != RunPhase.IDLE or (self.resume_offer and not self.interrupted):
            return
        run = self.runs.interrupted_run()
        self.interrupted = run.run_dir if run is not None and run.run_dir != self.runner.run_dir else ""
        self.resume_offer = self.tr(
            "Run {0} was interrupted: the app closed while it trained. Resume continues it from its last checkpoint "
            "(unless another Workbench window is still training it).").format(Path(self.interrupted).name) \
            if self.interrupted else ""
        self._update_notice()
        self._update_buttons()

    def _on_earlier_summary(self, summary: dict, resumed_from: int) -> None:
        """The training time of the epochs before a resume, so "Took" counts the whole run."""
        history = summary.get("history") or []
        self._earlier_seconds = sum(float(row.get("seconds") or 0.0) for row in history
                                    if isinstance(row.get("epoch"), int) and row["epoch"] <= resumed_from)

    # --- the banner ---------------------------------------------------------------------------------

    def _update_notice(self) -> None:
        if not self.project.config.data.source:
            self.show_notice(self.tr("Training needs a dataset: choose one in the Data step first."), target="data")
        elif self.dataset.error:
            self.show_notice(self.tr("The dataset has a problem that training would hit too: {0}").format(
                pointing_to_data(self.dataset.error)), target="data")
        elif self.resume_offer and not self.failure:
            self.show_notice(self.resume_offer, "info", button=self.tr("Resume"))
        elif not self.failure:
            self.clear_notice()
        self.status_changed.emit()

    def _on_banner_action(self) -> None:
        if not self._banner_target and self.resume_offer:
            self.resume()
        else:
            super()._on_banner_action()
