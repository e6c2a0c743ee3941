"""Background tasks: run a function on a worker thread and deliver its result on the GUI thread.

Everything slow that is not training (scanning a dataset, statistics, previews, model summaries,
evaluation, export) goes through `TaskManager.submit`. Tasks carry a key: a new task with the same
key supersedes the old one, whose result is then dropped and whose `should_stop` turns true. The
manager reports whether anything is running (for the busy indicator) and turns unexpected errors
into `failed` signals that the main window shows as a dialog and a log entry.
"""

from __future__ import annotations

import inspect
import itertools
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot


@dataclass(frozen=True)
class TaskFailure:
    """An error raised inside a task, with a readable message and the traceback for the log."""

    label: str
    message: str
    details: str = ""
    exception: BaseException | None = field(default=None, compare=False)


class TaskContext:
    """Handed to task functions that take a `context` argument: progress reporting and cancellation."""

    def __init__(self, task_id: int, bridge: _Bridge, cancelled: threading.Event) -> None:
        self._id = task_id
        self._bridge = bridge
        self._cancelled = cancelled
        self._last = 0.0

    def should_stop(self) -> bool:
        return self._cancelled.is_set()

    def progress(self, done: int, total: int, message: str = "") -> None:
        """Report progress; calls closer than 0.1 s apart are dropped, except the last one."""
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        self._bridge.progress.emit(self._id, int(done), int(total), message)


class _Bridge(QObject):
    """Lives on the GUI thread; workers emit through it, so delivery is queued onto the GUI thread."""

    result = Signal(int, object)
    error = Signal(int, object)
    progress = Signal(int, int, int, str)
    done = Signal(int)


class _Runnable(QRunnable):
    def __init__(self, task: Task, bridge: _Bridge) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self._task = task
        self._bridge = bridge

    def run(self) -> None:  # worker thread
        task = self._task
        try:
            kwargs = dict(task.kwargs)
            if task.wants_context:
                kwargs["context"] = TaskContext(task.id, self._bridge, task.cancelled)
            value = task.fn(*task.args, **kwargs)
        except InterruptedError as error:
            if not task.cancelled.is_set():  # stopped by its own means (e.g. a Cancel button): say so
                self._bridge.error.emit(task.id, TaskFailure(task.label, str(error) or "cancelled", "", error))
            # else: cancelled through the manager; nobody wants the result
        except BaseException as error:
            message = str(error) or type(error).__name__
            failure = TaskFailure(task.label, message, traceback.format_exc(), error)
            self._bridge.error.emit(task.id, failure)
        else:
            self._bridge.result.emit(task.id, value)
        finally:
            self._bridge.done.emit(task.id)


@dataclass
class Task:
    """A submitted unit of work; `cancel()` asks it to stop and drops its result."""

    id: int
    key: str
    label: str
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict
    on_result: Callable[[Any], None] | None
    on_error: Callable[[TaskFailure], None] | None
    on_progress: Callable[[int, int, str], None] | None
    expected: tuple[type[BaseException], ...]
    wants_context: bool
    cancelled: threading.Event = field(default_factory=threading.Event)
    runnable: _Runnable | None = None

    def cancel(self) -> None:
        self.cancelled.set()

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled.is_set()


class TaskManager(QObject):
    """Runs tasks on a small thread pool and reports results, errors and activity on the GUI thread."""

    busy_changed = Signal(bool)
    activity_changed = Signal(str)  # the labels of the running tasks, joined; "" when idle
    failed = Signal(object)  # TaskFailure of an unexpected error
    finished = Signal(str)  # key of a task that ended (result, error or cancellation)

    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._bridge = _Bridge(self)
        self._bridge.result.connect(self._on_result, Qt.ConnectionType.QueuedConnection)
        self._bridge.error.connect(self._on_error, Qt.ConnectionType.QueuedConnection)
        self._bridge.progress.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        self._bridge.done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)
        self._ids = itertools.count(1)
        self._tasks: dict[int, Task] = {}
        self._latest: dict[str, int] = {}

    # --- submitting -------------------------------------------------------------------------------

    def submit(
        self,
        key: str,
        fn: Callable[..., Any],
        *args: Any,
        label: str = "",
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[TaskFailure], None] | None = None,
        on_progress: Callable[[int, int, str], None] | None = None,
        expected: tuple[type[BaseException], ...] = (),
        **kwargs: Any,
    ) -> Task:
        """Run `fn(*args, **kwargs)` in the background, superseding any running task with the same key.

        Errors of the `expected` types go only to `on_error` (to be shown inline); any other error also
        raises `failed`, which the main window shows as a dialog. A function with a `context`
        parameter receives a TaskContext for progress and cancellation.
        """
        self.cancel(key)
        try:
            wants_context = "context" in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            wants_context = False
        task = Task(next(self._ids), key, label or key, fn, args, kwargs, on_result, on_error, on_progress,
                    expected, wants_context)
        task.runnable = _Runnable(task, self._bridge)
        was_busy = self.is_busy
        self._tasks[task.id] = task
        self._latest[key] = task.id
        self._pool.start(task.runnable)
        if not was_busy:
            self.busy_changed.emit(True)
        self.activity_changed.emit(self.activity())
        return task

    def cancel(self, key: str) -> None:
        """Ask the running task with `key` to stop; its result will be dropped."""
        task_id = self._latest.pop(key, None)
        if task_id is not None and task_id in self._tasks:
            self._tasks[task_id].cancel()

    def cancel_all(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._latest.clear()

    def wait(self, msecs: int = 10_000) -> bool:
        """Block until every worker is done (for shutdown and scripts); True when all finished."""
        return self._pool.waitForDone(msecs)

    # --- state ------------------------------------------------------------------------------------

    @property
    def is_busy(self) -> bool:
        return bool(self._tasks)

    def is_running(self, key: str) -> bool:
        return key in self._latest

    def activity(self) -> str:
        labels = [t.label for t in self._tasks.values() if not t.is_cancelled]
        return ", ".join(dict.fromkeys(labels))

    def _current(self, task_id: int) -> Task | None:
        task = self._tasks.get(task_id)
        if task is None or task.is_cancelled or self._latest.get(task.key) != task_id:
            return None
        return task

    # --- delivery on the GUI thread ---------------------------------------------------------------

    @Slot(int, object)
    def _on_result(self, task_id: int, value: object) -> None:
        task = self._current(task_id)
        if task is not None and task.on_result is not None:
            self._call(task, task.on_result, value)

    @Slot(int, object)
    def _on_error(self, task_id: int, failure: TaskFailure) -> None:
        task = self._current(task_id)
        if task is None:
            return
        expected = task.expected and isinstance(failure.exception, task.expected)
        if task.on_error is not None:
            self._call(task, task.on_error, failure)
        if not expected:
            self.failed.emit(failure)

    @Slot(int, int, int, str)
    def _on_progress(self, task_id: int, done: int, total: int, message: str) -> None:
        task = self._current(task_id)
        if task is not None and task.on_progress is not None:
            self._call(task, task.on_progress, done, total, message)

    @Slot(int)
    def _on_done(self, task_id: int) -> None:
        task = self._tasks.pop(task_id, None)
        if task is None:
            return
        if self._latest.get(task.key) == task_id:
            del self._latest[task.key]
        self.finished.emit(task.key)
        self.activity_changed.emit(self.activity())
        if not self._tasks:
            self.busy_changed.emit(False)

    def _call(self, task: Task, handler: Callable[..., None], *args: Any) -> None:
        """Run a GUI-side handler; an error in it becomes a `failed` report instead of a lost traceback."""
        try:
            handler(*args)
        except Exception as error:
            self.failed.emit(TaskFailure(task.label, f"{type(error).__name__}: {error}", traceback.format_exc(), error))
