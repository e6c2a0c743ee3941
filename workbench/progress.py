"""Terminal progress: the CLI's progress-bar callback (the GUI's runner plays this role on screen)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm

from workbench.core.callbacks import Callback, epoch_line
from workbench.core.evaluation.baselines import baseline_line
from workbench.core.events import (
    BackgroundProgress,
    BatchEnded,
    EngineEvent,
    EpochEnded,
    FindingRaised,
    LogMessage,
    RunFailed,
    RunFinished,
    RunStarted,
    StageProgress,
)


@contextmanager
def bar(label: str) -> Iterator[Callable[[int, int], None]]:
    progress = tqdm(desc=label, unit="img", file=sys.stderr, leave=False, dynamic_ncols=True)

    def update(done: int, total: int) -> None:
        progress.total = total
        progress.n = done
        progress.refresh()

    try:
        yield update
    finally:
        progress.close()


class StagedBar:
    """One bar per stage ("reading images", then "predicting"), each counting the images of that stage."""

    def __init__(self) -> None:
        self.progress: tqdm | None = None

    def stage(self, label: str) -> None:
        self.close()
        self.progress = tqdm(desc=label, unit="img", file=sys.stderr, leave=False, dynamic_ncols=True)

    def update(self, done: int, total: int) -> None:
        if self.progress is None:
            self.stage("working")
        assert self.progress is not None
        self.progress.total = total
        self.progress.n = done
        self.progress.refresh()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.close()
            self.progress = None


class ConsoleProgress(Callback):
    """A progress bar per epoch and one line of metrics after each."""

    def __init__(self, live_bars: bool | None = None) -> None:
        # Bars redraw in place on a terminal; in a log file they would print a line per update.
        self.live = sys.stderr.isatty() if live_bars is None else live_bars
        self.bar: tqdm | None = None
        self.stage_bar: tqdm | None = None
        self.baselines: dict = {}  # of the validation split, from RunStarted: each score is read against them
        self.finished = False  # after RunFinished, background checks print their progress lines
        self._background: dict[str, str] = {}  # task -> the last line printed

    def on_event(self, event: EngineEvent) -> None:
        if isinstance(event, StageProgress):
            if not self.live:
                return
            if self.stage_bar is None or self.stage_bar.desc != event.stage:
                self._close_stage()
                self.stage_bar = tqdm(desc=event.stage, total=event.total, unit="img", file=sys.stderr, leave=False)
            self.stage_bar.update(event.done - self.stage_bar.n)
        elif isinstance(event, BackgroundProgress):
            self._on_background(event)
        elif isinstance(event, RunFinished):
            self.finished = True
            for text in list(self._background.values()):  # lines held back while the epochs printed
                print(text, file=sys.stderr)
        elif isinstance(event, LogMessage) and event.level != "debug":
            tqdm.write(f"{event.level}: {event.message}", file=sys.stderr)
        else:
            super().on_event(event)

    def _on_background(self, event: BackgroundProgress) -> None:
        """One labelled line per change ("Checking for shortcuts: 3 of 10 classes"), once the run has finished;
        before that only the latest line of each task is kept, so the epoch lines stay readable."""
        text = event.text if event.total or event.finished else f"{event.label} …"
        if self._background.get(event.task) == text:
            return
        self._background[event.task] = text
        if self.finished:
            tqdm.write(text, file=sys.stderr)
        if event.finished:
            self._background.pop(event.task, None)

    def _close_stage(self) -> None:
        if self.stage_bar is not None:
            self.stage_bar.close()
            self.stage_bar = None

    def on_run_started(self, event: RunStarted) -> None:
        self._close_stage()
        sizes = ", ".join(f"{k} {v}" for k, v in event.split_sizes.items())
        print(f"Training on {event.device}: {event.num_classes} classes ({sizes}), "
              f"{event.parameter_count:,} parameters, input {'×'.join(map(str, event.input_shape))}")
        print(f"Run folder: {event.run_dir}")
        if event.baselines.get("images"):
            self.baselines = event.baselines
            print(f"Validation {baseline_line(event.baselines)}")

    def on_batch_ended(self, event: BatchEnded) -> None:
        if not self.live:
            return
        if self.bar is None:
            self.bar = tqdm(total=event.batches, desc=f"epoch {event.epoch}", unit="batch", file=sys.stderr,
                            leave=False, dynamic_ncols=True)
        self.bar.set_postfix(loss=f"{event.loss:.4f}", img_s=f"{event.images_per_second:.0f}", refresh=False)
        self.bar.update(event.batch - self.bar.n)

    def on_epoch_ended(self, event: EpochEnded) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        line = epoch_line(event)
        majority, acc = self.baselines.get("majority_accuracy"), event.metrics.get("accuracy")
        if isinstance(majority, float) and isinstance(acc, float):  # the score beside its baseline
            line = line.replace(f"val acc {acc:.4f}", f"val acc {acc:.4f} (majority {majority:.3f})", 1)
        print(line)

    def on_finding(self, event: FindingRaised) -> None:
        if event.status in ("resolved", "withdrawn"):  # a closed finding: say so, with the reason
            note = event.history[-1].get("note", "") if event.history else ""
            tqdm.write(f"[{event.status}] {event.title}" + (f": {note}" if note else ""))
            return
        tqdm.write(f"[{event.severity}] {event.title}: {event.explanation}" + (f" Fix: {event.fix}" if event.fix else ""))

    def on_run_failed(self, event: RunFailed) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self._close_stage()
