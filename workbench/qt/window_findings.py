"""The main window's findings: the data checks in the background, the run's findings, and the checklist dialog.

A mixin of `MainWindow` (qt/app.py), which owns the objects it uses: project, tasks, runner, dataset, runs,
the finding store and the panes.
"""

from __future__ import annotations

from pathlib import Path

from workbench.qt import doctor
from workbench.qt.widgets.checklist import ChecklistDialog


class WindowFindingsMixin:
    """Findings from the data checks and from runs, shown on each pane and in the checklist."""

    def show_checklist(self) -> ChecklistDialog:
        if self.checklist is None:
            self.checklist = ChecklistDialog(self.findings, self)
            self.checklist.view.navigate.connect(self.show_step)
        self.checklist.show()
        self.checklist.raise_()
        return self.checklist

    def _show_findings(self) -> None:
        for key, pane in self.panes.items():
            pane.findings.set_findings(self.findings.for_pane(key))

    def _on_dataset_changed(self) -> None:
        self.findings.clear("data")
        if self.check_data and self.dataset.scan is not None and not self.dataset.scanning:
            self._data_check_timer.start()
        else:
            self._data_check_timer.stop()
            self.tasks.cancel("data-checks")

    def run_data_checks(self) -> None:
        """The engine's data checks (duplicates, blank images, imbalance, labels, …) in the background."""
        if self.dataset.scan is None or self.runner.is_running:
            return  # a run makes its own data checks; two at once would only slow the window
        self.tasks.submit("data-checks", doctor.data_checks, self.project.effective_config(),
                          label=self.tr("Checking the data"),
                          on_result=self._on_data_findings,
                          on_error=lambda f: self.log("warning", self.tr("Data checks failed: {0}").format(f.message)),
                          expected=(Exception,))

    def _on_run_finished(self, event) -> None:
        """The run's checks are done; where its own data checks ran to the end, they supersede the earlier ones
        (the rule the report follows, `core.checklist.run_rechecked_data`)."""
        from workbench.core.checklist import run_rechecked_data
        from workbench.core.run_folder import RunFolder
        from workbench.core.runs import read_toml

        if run_rechecked_data(read_toml(RunFolder(event.run_dir).config), event.status):
            self.findings.replace("data", [])
        self.findings.mark_checked("run")

    def _on_data_findings(self, found: list) -> None:
        """Show the data checks' findings, and keep them beside the runs for the report."""
        from workbench.core.dataset_findings import save_data_findings

        self.findings.replace("data", found)
        config = self.project.effective_config()
        try:
            save_data_findings(config.runs_dir, config.data.source, found)
        except OSError as error:
            self.log("warning", self.tr("The data checks' findings could not be stored: {0}").format(error))

    def _on_run_cleared(self) -> None:
        """A run starts: the last run's findings are not this run's (they come back with its folder)."""
        self.tasks.cancel("run-findings")
        self.findings.clear("run")

    def _on_current_run(self, run_dir: str) -> None:
        """A re-opened run shows the findings it stored (findings.json); no run, no run findings."""
        if self.runner.is_running:
            return
        if self.runner.is_busy and Path(run_dir or ".") == Path(self.runner.run_dir or "."):
            return  # its end-of-run findings are still arriving as events
        if not run_dir:
            self.tasks.cancel("run-findings")
            self.findings.clear("run")
            return
        self.tasks.submit("run-findings", doctor.stored_findings, run_dir, label=self.tr("Reading findings"),
                          on_result=lambda found: self.findings.replace("run", found) if found is not None
                          else self.findings.clear("run"), expected=(OSError, ValueError))
