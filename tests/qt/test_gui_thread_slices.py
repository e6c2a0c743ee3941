"""What keeps the window's event loop free while a run goes, as structure (no timings): plots resized together
repaint one per slice, the doctor's progress line never changes the layout, and a finding builds its cards only
on the pane that is on screen."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent

from workbench.core.events import BackgroundProgress, FindingRaised
from workbench.qt.widgets import curve_plot
from workbench.qt.widgets.findings import FindingCard


def test_plots_resized_in_one_layout_pass_repaint_in_slices_of_their_own(qtbot, window) -> None:
    window.show_step("train")
    train = window.panes["train"]
    plots = [*train.curves.plots, train.projection.plot, train.projection.score_plot]
    qtbot.waitUntil(lambda: all(p.updatesEnabled() for p in plots), timeout=10_000)  # the first show's slices
    # A finding above the plots shrinks them all in one layout pass...
    window.runner.finding.emit(FindingRaised("loss_start", "problem", "The first loss is far too high", "It was 9.",
                                             "Lower the rate.", {}, "train"))
    for _ in range(4):  # the layout pass, without running the event loop's timers (the slices)
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
    # ...and none of them paints in that frame: each waits for a slice of its own, queued in order.
    queue = curve_plot._stagger.queue
    assert all(not p.updatesEnabled() for p in plots) and set(plots) <= set(queue)
    qtbot.waitUntil(lambda: all(p.updatesEnabled() for p in plots) and not queue, timeout=10_000)


def test_a_new_x_span_repaints_the_curves_one_by_one(qtbot, window) -> None:
    window.show_step("train")
    curves = window.panes["train"].curves
    qtbot.waitUntil(lambda: all(p.updatesEnabled() for p in curves.plots), timeout=10_000)
    curves.set_x_span(0, 12)  # what RunStarted does
    assert [p for p in curves.plots if not p.updatesEnabled()] == list(curve_plot._stagger.queue)[-3:]
    qtbot.waitUntil(lambda: all(p.updatesEnabled() for p in curves.plots), timeout=10_000)


def test_the_doctors_progress_line_keeps_its_height(qtbot, window) -> None:
    lines = window.panes["train"].background_lines
    height = lines.height(), lines.sizeHint().height()
    assert lines.minimumHeight() == lines.maximumHeight()  # fixed: its text never re-lays out the pane
    for task in ("data-checks", "shortcut", "label-check", "projection"):
        lines.show_progress(BackgroundProgress(task, f"Doing {task}", 1, 3, "steps"))
    assert len(lines.lines) == 4 and "\n" not in lines.text() and lines.toolTip().count("\n") == 3
    assert (lines.height(), lines.sizeHint().height()) == height
    lines.clear_lines()
    assert lines.text() == "" and (lines.height(), lines.sizeHint().height()) == height


def test_a_finding_builds_its_cards_only_on_the_pane_on_screen(qtbot, window) -> None:
    window.show_step("train")
    data = window.panes["data"]
    window.runner.finding.emit(FindingRaised("class_imbalance", "warning", "The classes are unbalanced", "5 times",
                                             "Weigh the classes.", {}, "data"))
    assert data.findings.isVisibleTo(data)  # its header is ready...
    assert not data.findings.findChildren(FindingCard)  # ...its cards are not built while the pane is hidden
    window.show_step("data")
    [card] = data.findings.findChildren(FindingCard)
    assert card.finding.title == "The classes are unbalanced"
    # The same findings again (another pane's finding changed the store): the cards are kept, not rebuilt.
    window.runner.finding.emit(FindingRaised("loss_start", "problem", "The first loss is far too high", "9",
                                             "Lower the rate.", {}, "train"))
    assert data.findings.findChildren(FindingCard) == [card]
