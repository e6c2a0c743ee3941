"""A stored run in the Train pane: its curves when it is picked, and what a new project clears.

A mixin of `TrainPane`: while nothing trains, the pane shows the current run's stored curves (through the same
`TrainingCurves.add_epoch` as live training) and says that it is a stored run, not a current one.
"""

from __future__ import annotations

from workbench.qt import doctor, jobs
from workbench.qt.project_model import key_affects
from workbench.qt.run_phase import RunPhase


class StoredRunMixin:
    """Show the current run's stored history; forget everything of the last run when the project changes."""

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
            self.stored_status = ""
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
        if not run_dir:  # no run (a new project, or its runs were deleted): show none
            self.stored_status = ""
            self._clear_curves()
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
        if shown:
            self.last_epoch = max(int(row.get("epoch", 0)) for row in summary["history"])
            self.append_log(self.tr("Showing the stored curves of run {0} ({1}, {2} epochs)").format(
                run_dir, self.stored_status, shown))
        self._refresh_phase()

    def _on_earlier_summary(self, summary: dict) -> None:
        history = summary.get("history") or []
        resumed_from = self.last_epoch if self.phase.active else 0
        self._earlier_seconds = sum(float(row.get("seconds") or 0.0) for row in history
                                    if isinstance(row.get("epoch"), int) and row["epoch"] <= max(resumed_from, 0))

