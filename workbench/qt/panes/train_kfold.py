"""Cross-validation in the Train pane: start, continue and summarise a k-fold run.

A mixin of `TrainPane` (it uses the pane's runner, table and log), kept apart so the pane stays about a single run.
"""

from __future__ import annotations

from typing import Any

from workbench.core.config import with_updates


class KFoldMixin:
    """Start, resume and summarise a cross-validation; see `workbench.core.strategies.kfold`."""

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
        config = with_updates(config, {"data.k_folds": k}, source="the number of folds")
        self._begin(config, fresh=True)
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

    def _resume_k_fold(self) -> None:
        summary, self.k_fold_resume = self.k_fold_resume, ""
        self._begin(self.project.effective_config(), fresh=False)
        self.fold = self.kfold_table.reopen() - 1  # the next RunStarted is the first unfinished fold
        self.append_log(self.tr("Continuing the cross-validation from {0}").format(summary))
        self.runner.start(self.project.effective_config(), resume=summary, k_fold=True)
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

    def _update_kfold_button(self) -> None:
        k = self.fold_count()
        self.kfold_button.setText(self.tr("Cross-validate ({0} folds)").format(k))
        self.kfold_button.setToolTip(self.tr(
            "Train {0} times with these settings, each time validating on a different fold of the training pool, "
            "and report each metric as mean ± standard deviation. The test split is never touched. The number of "
            "folds is set in the Data step.").format(k))

