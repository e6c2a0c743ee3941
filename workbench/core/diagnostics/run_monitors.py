"""The diagnostics attached to every training run, and the factory the engine calls to get them.

Data checks run in a background thread from the start of the run; shortcut probing and the label check on
the network's own validation predictions run once at the end; the loss and network checks (every "training"
entry of the diagnostics registry) watch every step and epoch.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core.diagnostics.background import lower_thread_priority
from workbench.core.diagnostics.data_checks import run_data_checks
from workbench.core.diagnostics.label_issues import judges_labels, label_issue_findings, save_out_of_sample_probs
from workbench.core.diagnostics.monitor_base import GuardedMonitor
from workbench.core.diagnostics.registry import diagnostics_of_kind
from workbench.core.diagnostics.settings import settings_from_config
from workbench.core.diagnostics.shortcut import shortcut_check_for_run
from workbench.core.training.monitors import Monitor, MonitorContext

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig

log = logging.getLogger(__name__)
FINISHED = ("completed", "early_stopped")


def evidence_folder(context: MonitorContext) -> Path | None:
    return Path(context.run_dir) / "diagnostics" if context.run_dir else None


class DataChecksMonitor(GuardedMonitor):
    """Runs `run_data_checks` in a low-priority thread while training starts; findings are emitted as found."""

    def __init__(self, wait_s: float = 120.0) -> None:
        self.wait_s = wait_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def setup(self, context: MonitorContext) -> None:
        self._stop.clear()

        def work() -> None:
            lower_thread_priority()
            try:
                run_data_checks(context.data, context.config, evidence_dir=evidence_folder(context),
                                should_stop=self._stop.is_set, on_finding=lambda f: context.emit(f.to_event()))
            except InterruptedError:
                pass
            except Exception:  # never let a check take the run down
                log.warning("data checks failed", exc_info=True)

        self._thread = threading.Thread(target=work, name="workbench-data-checks", daemon=True)
        self._thread.start()

    def on_run_end(self, status: str) -> None:
        if self._thread is None:
            return
        if status not in FINISHED:
            self._stop.set()
        self._thread.join(self.wait_s if status in FINISHED else 10.0)
        self._stop.set()  # past the wait, whatever is left is abandoned


class ShortcutMonitor(GuardedMonitor):
    """At the end of a finished run, probes the model for shortcuts (section II-E) and emits the findings."""

    def __init__(self, max_per_class: int = 8) -> None:
        self.max_per_class = max_per_class
        self.context: MonitorContext | None = None
        self.report = None

    def setup(self, context: MonitorContext) -> None:
        self.context = context

    def on_run_end(self, status: str) -> None:
        if self.context is None or status not in FINISHED:
            return
        self.report = shortcut_check_for_run(self.context.model, self.context, max_per_class=self.max_per_class)
        for finding in self.report.findings:
            self.context.emit(finding.to_event())


class LabelIssuesMonitor(GuardedMonitor):
    """At the end of a finished run: cleanlab on the network's predictions for the validation images.

    The validation images were never trained on, so these are out-of-sample probabilities, better judges of
    a label than the pixel model of the data checks. They are also saved, so a k-fold cross-validation can
    combine its folds into out-of-fold predictions for the whole training pool.
    """

    MIN_IMAGES = 20

    def __init__(self) -> None:
        self.context: MonitorContext | None = None

    def setup(self, context: MonitorContext) -> None:
        self.context = context

    def on_run_end(self, status: str) -> None:
        from workbench.core.training.loop import predict

        context = self.context
        if context is None or status not in FINISHED or len(context.val_source.indices) < self.MIN_IMAGES:
            return
        source = dataclasses.replace(context.val_source, transform=None, shard=None)  # every image, un-augmented
        rows = source.indices
        probs = predict(context.model, source)["probs"]
        folder = evidence_folder(context)
        if folder is not None:
            save_out_of_sample_probs(folder, rows, probs)
        data = context.data
        if not judges_labels(data.labels[rows], probs):
            return  # an undertrained network would accuse good labels
        for finding in label_issue_findings(
                data.labels[rows], probs, [data.samples[i] for i in rows], data.class_names,
                splits=[data.splits[i] for i in rows],
                source="the trained network, on validation images it did not train on"):
            context.emit(finding.to_event())


def diagnostic_monitors(config: ProjectConfig) -> list[Monitor]:
    """The monitors the settings ask for (registered with the engine's monitor factories)."""
    settings = settings_from_config(config)
    if not settings.enabled:
        return []
    monitors: list[Monitor] = []
    if settings.data_checks:
        monitors.append(DataChecksMonitor())
    if settings.training_checks:  # every "training" entry of the registry, a plugin's included
        for entry in diagnostics_of_kind("training"):
            try:
                monitors.append(entry.load()(config))
            except Exception:  # a broken (plugin) monitor must not stop the run; the log says which
                log.warning("training monitor %s could not be made", entry.name, exc_info=True)
    if settings.shortcut_check:
        monitors.append(ShortcutMonitor())
    if settings.label_check:
        monitors.append(LabelIssuesMonitor())
    return monitors
