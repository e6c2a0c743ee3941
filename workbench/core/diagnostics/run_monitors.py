"""The diagnostics attached to every training run, and the factory the engine calls to get them.

Data checks run in a background thread from the start of the run; shortcut probing runs once at the end;
the loss and network checks watch every step and epoch.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core.diagnostics.background import lower_thread_priority
from workbench.core.diagnostics.data_checks import run_data_checks
from workbench.core.diagnostics.loss_monitors import FitMonitor, InitialLossMonitor, LossTrendMonitor
from workbench.core.diagnostics.monitor_base import GuardedMonitor
from workbench.core.diagnostics.network_monitors import DeadUnitMonitor, GradientMonitor, OutputPairingMonitor
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


def diagnostic_monitors(config: ProjectConfig) -> list[Monitor]:
    """The monitors the settings ask for (registered with the engine's monitor factories)."""
    settings = settings_from_config(config)
    if not settings.enabled:
        return []
    monitors: list[Monitor] = []
    if settings.data_checks:
        monitors.append(DataChecksMonitor())
    if settings.training_checks:
        monitors += [OutputPairingMonitor(), InitialLossMonitor(), LossTrendMonitor(), FitMonitor(),
                     DeadUnitMonitor(), GradientMonitor()]
    if settings.shortcut_check:
        monitors.append(ShortcutMonitor())
    return monitors
