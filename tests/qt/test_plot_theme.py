"""Plots follow the theme: switching to dark restyles the plots on screen (background, axes, title, legend),
plots built afterwards are dark too, and switching back restores the light look."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from workbench.qt.plot_theme import DARK, LIGHT


@pytest.fixture
def theme():
    from workbench.qt.theme import ThemeController

    app = QApplication.instance()
    controller = ThemeController(app)
    controller.apply(False)
    yield controller
    controller.apply(False)
    app.setStyleSheet("")
    app.setProperty("workbenchDark", None)


def background(plot) -> str:
    return plot.backgroundBrush().color().name()


def test_switching_theme_restyles_existing_and_new_plots(window, theme) -> None:
    from workbench.qt.widgets.curve_plot import CurvePlot

    loss = window.panes["train"].loss_plot
    assert background(loss) == LIGHT.background
    theme.apply(True)
    assert background(loss) == DARK.background
    assert background(window.panes["train"].projection.plot) == DARK.background
    axis = loss.getPlotItem().getAxis("left")
    assert axis.textPen().color() == QColor(DARK.foreground)
    assert DARK.title in loss.getPlotItem().titleLabel.text and "Loss" in loss.getPlotItem().titleLabel.text
    assert loss.legend.brush().color().name() == QColor(*DARK.legend_fill[:3]).name()

    later = CurvePlot("Later", "value")
    assert background(later) == DARK.background
    later.deleteLater()

    theme.apply(False)
    assert background(loss) == LIGHT.background
    assert axis.textPen().color() == QColor(LIGHT.foreground)


def test_restyle_all_skips_plots_that_qt_has_deleted(qapp, theme) -> None:
    import shiboken6

    from workbench.qt.plot_theme import ThemedPlotWidget, restyle_all

    kept, gone = ThemedPlotWidget(), ThemedPlotWidget()
    shiboken6.delete(gone)  # the C++ side is gone while the Python wrapper lives on
    restyled = restyle_all(QApplication.instance(), True)
    assert background(kept) == DARK.background
    assert restyled >= 1 and not shiboken6.isValid(gone)
    kept.deleteLater()
