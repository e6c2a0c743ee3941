"""The Strategy pane's learning-rate finder: runs in the background, plots the curve, applies the suggestion."""

from __future__ import annotations

import math
import re
import time

import pytest

from tests.qt.helpers import TINY_TRAINING
from workbench.qt.widgets.lr_finder import TASK_KEY, decade_ticks, format_rate

TIMEOUT = 60_000


@pytest.fixture
def strategy(qtbot, make_window, shapes_dataset, engine_loaded):
    """The Strategy pane of a window with the shapes dataset loaded and tiny training settings."""
    window = make_window()
    window.load_dropped(shapes_dataset)
    qtbot.waitUntil(lambda: window.dataset.scan is not None and not window.dataset.scanning, timeout=TIMEOUT)
    window.project.update_many(TINY_TRAINING)
    window.show_step("strategy")
    pane = window.panes["strategy"]
    pane.lr_finder.steps = 20
    return window, pane


def test_the_finder_plots_the_curve_and_use_sets_the_rate(qtbot, strategy) -> None:
    window, pane = strategy
    finder = pane.lr_finder
    assert not finder.result_box.isVisibleTo(finder)
    finder.find_button.click()
    assert finder.running and not finder.find_button.isEnabled()
    assert finder.cancel_button.isVisibleTo(finder) and finder.progress.isVisibleTo(finder)
    seen: list[str] = []
    qtbot.waitUntil(lambda: seen.append(finder.progress.format()) or finder.result is not None, timeout=TIMEOUT)
    assert any("Testing rates" in text for text in seen), seen
    assert finder.result_box.isVisibleTo(finder) and not finder.running and finder.find_button.isEnabled()

    xs, ys = finder.plot.series_data("loss")
    assert len(xs) >= 10 and all(math.isfinite(y) for y in ys)
    assert finder.plot.getPlotItem().ctrl.logXCheck.isChecked(), "the rate axis is logarithmic"
    suggested = finder.result.suggested
    assert xs[0] <= suggested <= xs[-1]
    # On a log axis the lines sit at log10 of their rates.
    assert finder.suggested_line.value() == pytest.approx(math.log10(suggested))
    assert finder.current_line.value() == pytest.approx(math.log10(0.003))

    number = re.search(r"Suggested learning rate: <b>([0-9.e-]+)</b>", finder.suggestion_label.text())
    assert number and float(number.group(1)) == pytest.approx(suggested)
    assert finder.use_button.text() == f"Use {format_rate(suggested)}"
    assert suggested != pytest.approx(0.003)
    finder.use_button.click()
    assert window.project.config.training.lr == pytest.approx(suggested)
    assert pane.optim_form.editor("lr").value() == pytest.approx(suggested), "the form shows the new rate"
    assert finder.current_line.value() == pytest.approx(math.log10(suggested)), "the current-rate line follows"
    assert not finder.use_button.isEnabled(), "nothing left to apply"
    assert "close to it" in finder.suggestion_label.text()


def test_cancel_stops_the_test_and_changes_nothing(qtbot, strategy) -> None:
    window, pane = strategy
    finder = pane.lr_finder
    finder.steps = 100_000  # would take many minutes if Cancel did not stop the worker
    finder.find_button.click()
    qtbot.waitUntil(lambda: "Testing rates" in finder.progress.format(), timeout=TIMEOUT)
    finder.cancel_button.click()
    assert not finder.running and finder.find_button.isEnabled() and not finder.cancel_button.isVisibleTo(finder)
    assert "Cancelled" in finder.status_label.text()
    started = time.monotonic()
    qtbot.waitUntil(lambda: not window.tasks.is_busy, timeout=20_000)
    assert time.monotonic() - started < 20
    qtbot.wait(50)  # any late delivery would arrive now
    assert finder.result is None and not finder.result_box.isVisibleTo(finder)
    assert window.project.config.training.lr == pytest.approx(0.003)


def test_without_a_dataset_the_error_shows_inline(qtbot, make_window) -> None:
    window = make_window()
    window.show_step("strategy")
    finder = window.panes["strategy"].lr_finder
    finder.find_button.click()
    assert not finder.running and not window.tasks.is_running(TASK_KEY), "nothing is started without data"
    assert finder.error_label.isVisibleTo(finder)
    assert finder.error_label.text() == "Choose a dataset in the Data step first."


def test_an_engine_error_shows_inline_not_as_a_dialog(qtbot, strategy) -> None:
    window, pane = strategy
    finder = pane.lr_finder
    failures: list[object] = []
    window.tasks.failed.connect(failures.append)
    finder.steps = 2  # the engine refuses fewer than 5 steps
    finder.find_button.click()
    qtbot.waitUntil(lambda: not finder.running, timeout=TIMEOUT)
    assert "at least 5 steps" in finder.error_label.text() and finder.error_label.isVisibleTo(finder)
    assert finder.find_button.isEnabled() and finder.result is None
    assert not failures, "an expected error is shown in place, not as a dialog"


def test_the_finder_waits_while_training_runs(strategy) -> None:
    _window, pane = strategy
    finder = pane.lr_finder
    pane.ctx.runner.running_changed.emit(True)
    assert not finder.find_button.isEnabled() and "training" in finder.find_button.toolTip()
    pane.ctx.runner.running_changed.emit(False)
    assert finder.find_button.isEnabled()


def test_rates_and_ticks_read_alike() -> None:
    assert [format_rate(v) for v in (3e-3, 0.0062, 0.062, 1.0, 1e-6)] == ["3e-3", "6.2e-3", "0.062", "1", "1e-6"]
    major, minor = decade_ticks(1e-6, 1.0)
    assert [label for _, label in major] == ["1e-6", "1e-5", "1e-4", "1e-3", "0.01", "0.1", "1"]
    assert [value for value, _ in major] == list(range(-6, 1)) and len(minor) == 6 * 8
