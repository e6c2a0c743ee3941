"""The diagnostics attached to every training run, and the factory the engine calls to get them.

The heavy ones run in a helper process (helper_process.py), so training keeps its cores and the window its
GIL: the data checks from the start of the run (from the dataset's stored results where it was checked
before), the shortcut probe and the label check on the network's own validation predictions after the run
was reported finished, each with its own progress line. The loss and network checks watch every step and
epoch in the training process (every "training" entry of the diagnostics registry).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import workbench.core.diagnostics.background_jobs as jobs
from workbench.core.diagnostics.findings import Finding
from workbench.core.diagnostics.helper_process import HelperJob, in_process, spare_cores
from workbench.core.diagnostics.monitor_base import GuardedMonitor
from workbench.core.diagnostics.registry import diagnostics_of_kind
from workbench.core.diagnostics.settings import settings_from_config
from workbench.core.events import BackgroundProgress, LogMessage
from workbench.core.host import interactive_host
from workbench.core.training.monitors import Monitor, MonitorContext

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig

log = logging.getLogger(__name__)
FINISHED = ("completed", "early_stopped")
JOBS = "workbench.core.diagnostics.background_jobs"


def evidence_folder(context: MonitorContext) -> Path | None:
    return Path(context.run_dir) / "diagnostics" if context.run_dir else None


class HelperMonitor(GuardedMonitor):
    """A monitor whose work is one HelperJob: findings become events, progress a BackgroundProgress line."""

    task, label, unit = "", "", ""

    def __init__(self) -> None:
        self.context: MonitorContext | None = None
        self.job: HelperJob | None = None
        self._temporary: str | None = None
        self._target: str | None = None  # an end-of-run job's function, until its job is made
        self._on_done: Callable[[Any], None] | None = None
        self._deferred: dict[str, Any] | None = None  # end-of-run work waiting for `after_run` (a thread's)

    def setup(self, context: MonitorContext) -> None:
        self.context = context
        self.job, self._temporary, self._target, self._deferred = None, None, None, None

    def _progress(self, done: int, total: int, finished: bool = False, label: str = "") -> None:
        if self.context is not None:
            self.context.emit(BackgroundProgress(self.task, label or self.label, done, total, self.unit, finished))

    def _message(self, message: Any) -> None:
        kind = message[0]
        if kind == "finding" and self.context is not None:
            self.on_finding(message[1])
            self.context.emit(message[1].to_event())
        elif kind == "progress":  # ("progress", done, total[, label of this stage])
            self._progress(int(message[1]), int(message[2]), label=str(message[3]) if len(message) > 3 else "")

    def on_finding(self, finding: Finding) -> None:
        """Called for each finding before it is emitted (subclasses keep what they need)."""

    def _done_hook(self, on_done: Callable[[Any], None] | None) -> Callable[[Any], None]:
        """The job's result goes to `on_done`, then the task's line says it is done (as soon as it is)."""
        def hook(result: Any) -> None:
            if on_done is not None:
                on_done(result)
            self._progress(1, 1, finished=True)
        return hook

    def _start(self, target: str, payload: dict[str, Any], temporary: str | None,
               on_done: Callable[[Any], None] | None = None) -> None:
        self._temporary = temporary
        self._progress(0, 0)
        self.job = HelperJob(f"{JOBS}:{target}", payload, self._message, on_done=self._done_hook(on_done),
                             name=self.task).start()

    def _wait(self, should_stop: Callable[[], bool], timeout_s: float | None = None) -> bool:
        """Wait for the job, polling `should_stop`; True when it finished (False: cancelled or timed out)."""
        deferred, self._deferred = self._deferred, None
        if deferred is not None:
            self._hand_over(deferred)
        if self.job is None:
            return False
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not self.job.join(0.2):
            if should_stop() or (deadline is not None and time.monotonic() > deadline):
                self.cancel()
                return False
        self._finish()
        return not self.job.error and not self.job.cancelled

    def _finish(self) -> None:
        jobs.remove_temporary(self._temporary)
        self._temporary = None
        if self.job is not None and self.job.error:  # no result came: the line still ends
            self._progress(0, 0, finished=True)

    def _prestart(self, target: str, warm: tuple[str, ...], on_done: Callable[[Any], None] | None = None) -> None:
        """An end-of-run job. Where it will need a process (a window shares this one) and cores or a GPU are to
        spare, the process starts now, without its work, so that its start-up and imports overlap training;
        on a CPU that training keeps busy it starts once training is over, and headless it is a thread then."""
        self._target, self._on_done = target, on_done
        self.job = None
        assert self.context is not None
        if interactive_host() and (self.context.device.type != "cpu" or spare_cores()):
            self.job = HelperJob(f"{JOBS}:{target}", None, self._message, on_done=self._done_hook(on_done),
                                 name=self.task, later=True, warm=warm, after_training=True).start()

    def _job_in_a_process(self) -> bool:
        """Whether the end-of-run job runs in a helper process (a window shares this one) or in a thread here."""
        if self.job is not None:
            return self.job.uses_process
        return interactive_host() and not in_process()

    def _submit(self, payload: dict[str, Any], temporary: str | None) -> None:
        """The end-of-run work; training is over, so the end-of-run helpers share the cores. A helper process gets it
        at once (it works while the run is reported); a thread of this process starts on it in `after_run`, once
        the run was reported finished."""
        self._temporary = temporary
        if not self._job_in_a_process():
            self._deferred = payload
            return
        self._hand_over(payload)

    def _hand_over(self, payload: dict[str, Any]) -> None:
        self._progress(0, 0)
        threads = max(1, (os.cpu_count() or 1) // 2)
        if self.job is None:
            self.job = HelperJob(f"{JOBS}:{self._target}", None, self._message,
                                 on_done=self._done_hook(self._on_done), name=self.task, later=True,
                                 after_training=True).start()
        self.job.submit(payload, threads=threads)

    def on_run_end(self, status: str) -> None:
        if status not in FINISHED:
            self.cancel()

    def cancel(self) -> None:
        self._deferred = None
        if self.job is not None and not self.job.done:
            self.job.cancel()
        jobs.remove_temporary(self._temporary)
        self._temporary = None


class DataChecksMonitor(HelperMonitor):
    """The data checks, from the start of the run: from the store where this dataset and these settings were
    checked before, else in a helper process. The run waits for them (up to `wait_s`) after reporting it finished."""

    task, label, unit = "data-checks", "Checking the data", "checks"

    def __init__(self, wait_s: float = 600.0) -> None:
        super().__init__()
        self.wait_s = wait_s
        self.result: dict[str, Any] | None = None

    def setup(self, context: MonitorContext) -> None:
        super().setup(context)
        self.result = None
        self._cancelled = False
        self._lookup = threading.Thread(target=self._look_up, daemon=True, name="workbench-data-check-lookup")
        self._lookup.start()

    def _look_up(self) -> None:
        """The store first, in a low-priority thread (hashing the files releases the GIL); a helper process only
        where this dataset and these settings were never checked, so a second run starts none."""
        from workbench.core.diagnostics.background import lower_thread_priority
        from workbench.core.diagnostics.check_store import copy_evidence, data_checks_key, load_stored

        lower_thread_priority()
        context = self.context
        assert context is not None
        try:
            key = data_checks_key(context.data, context.config, should_stop=lambda: self._cancelled)
            stored = load_stored(key)
        except InterruptedError:
            return
        except Exception:  # the helper computes them afresh
            log.warning("the stored data checks could not be read", exc_info=True)
            stored = None
        if stored is not None:
            self._progress(0, 0)
            findings = copy_evidence(stored, evidence_folder(context))
            for finding in findings:
                context.emit(finding.to_event())
            self._done({"key": key, "reused": True, "created": stored.created, "findings": len(findings)})
            self._progress(1, 1, finished=True)
        elif not self._cancelled:
            packed, temporary = jobs.portable_data(context.data)
            folder = evidence_folder(context)
            payload = {"data": packed, "config": context.config, "evidence_dir": str(folder) if folder else None}
            if self._after_training_here():
                self._target, self._on_done = "data_checks_job", self._done
                self._submit(payload, temporary)
            else:
                self._start("data_checks_job", payload, temporary, self._done)

    def _after_training_here(self) -> bool:
        """Headless CPU training that keeps every core busy: a helper would get no CPU before training ends (it
        runs at idle priority) and would then spend 1.5-2 s starting an interpreter and importing torch. The
        checks run in a thread of this process once the run is reported finished instead, beside the other
        end-of-run checks. With spare cores or a GPU, the helper works while training runs; beside a window it
        keeps the window's GIL free."""
        assert self.context is not None
        return not interactive_host() and self.context.device.type == "cpu" and not spare_cores()

    def cancel(self) -> None:
        self._cancelled = True
        lookup = getattr(self, "_lookup", None)
        if lookup is not None:
            lookup.join(10.0)  # it starts no helper once cancelled
        super().cancel()

    def _done(self, result: dict[str, Any]) -> None:
        self.result = result
        if result.get("reused") and self.context is not None:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(result.get("created", 0)))
            self.context.emit(LogMessage("info", f"data checks: the stored results of this dataset and these "
                                                 f"settings (checked {when}) were reused"))

    def after_run(self, status: str, should_stop: Callable[[], bool]) -> None:
        if status not in FINISHED:
            return
        deadline = time.monotonic() + self.wait_s
        while self._lookup.is_alive() and not should_stop() and time.monotonic() < deadline:
            self._lookup.join(0.2)
        if self.job is not None or self._deferred is not None:
            self._wait(should_stop, max(0.0, deadline - time.monotonic()))


class ShortcutMonitor(HelperMonitor):
    """After a finished run, probes the model for shortcuts (section II-E) in a helper process."""

    task, label, unit = "shortcut", "Checking for shortcuts", "classes"

    def __init__(self, max_per_class: int = 8) -> None:
        super().__init__()
        self.max_per_class = max_per_class
        self.report = None

    def setup(self, context: MonitorContext) -> None:
        super().setup(context)
        self.report = None
        self._last_validation: dict[str, Any] | None = None
        self._prestart("shortcut_job", ("workbench.core.diagnostics.shortcut", "captum.attr", "timm"), self._done)

    def on_epoch_end(self, epoch: int, record: dict[str, Any]) -> None:
        self._last_validation = record.get("validation")

    def _done(self, report: Any) -> None:
        self.report = report
        if self.context is not None:
            for finding in report.findings:
                self.context.emit(finding.to_event())

    def on_run_end(self, status: str) -> None:
        """Hand the trained model to the helper now, so it works while the run is reported and the others start."""
        if self.context is None or self._target is None or status not in FINISHED:
            self.cancel()
            return
        context = self.context
        packed, temporary = jobs.portable_data(context.data)
        payload = {"data": packed, "config": context.config, "model": jobs.portable_model(context.model, as_bytes=self._job_in_a_process()),
                   "run_dir": str(context.run_dir) if context.run_dir else None,
                   "max_per_class": self.max_per_class}
        last = self._last_validation
        if last is not None:  # the last validation pass judged these very weights: the probes need no new pass
            payload["known_probs"] = (last["rows"], last["probs"])
        self._submit(payload, temporary)

    def after_run(self, status: str, should_stop: Callable[[], bool]) -> None:
        if status in FINISHED:
            self._wait(should_stop)


class LabelIssuesMonitor(HelperMonitor):
    """After a finished run: cleanlab on the network's predictions for the validation images (helper process).

    The validation images were never trained on, so these are out-of-sample probabilities, better judges of
    a label than the pixel model of the data checks. They are also saved, so a k-fold cross-validation can
    combine its folds into out-of-fold predictions for the whole training pool.
    """

    task, label, unit = "label-check", "Checking the labels", "steps"
    MIN_IMAGES = 20

    def setup(self, context: MonitorContext) -> None:
        super().setup(context)
        self._last_validation: dict[str, Any] | None = None
        if len(context.val_source.indices) >= self.MIN_IMAGES:
            self._prestart("label_check_job", ("workbench.core.diagnostics.label_issues", "cleanlab.filter",
                                               "workbench.core.training.loop", "timm"))

    def on_epoch_end(self, epoch: int, record: dict[str, Any]) -> None:
        self._last_validation = record.get("validation")

    def on_run_end(self, status: str) -> None:
        context = self.context
        if context is None or self._target is None or status not in FINISHED:
            self.cancel()
            return
        packed, temporary = jobs.portable_data(context.data)
        folder = evidence_folder(context)
        payload = {"data": packed, "config": context.config, "evidence_dir": str(folder) if folder else None}
        last = self._last_validation
        if last is not None and np.array_equal(last["rows"], np.asarray(context.val_source.indices)):
            payload["probs"] = last["probs"]  # the last epoch's validation pass judged these very weights
        else:
            payload["model"] = jobs.portable_model(context.model, as_bytes=self._job_in_a_process())
        self._submit(payload, temporary)

    def after_run(self, status: str, should_stop: Callable[[], bool]) -> None:
        if status in FINISHED:
            self._wait(should_stop)


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
