"""Colours of the pyqtgraph plots in the light and dark themes, and restyling of plots already on screen.

pyqtgraph takes its background and foreground from global options when a plot is built, so new plots
follow `configure_pyqtgraph()`; plots that exist when the theme changes are restyled by `restyle_all`
(background, axes, title, legend). The theme controller calls it only once pyqtgraph is loaded, so
start-up does not pay for the import. Plots are `ThemedPlotWidget`s, which register in a weak set: walking
`QApplication.allWidgets()` instead would wrap every widget of the app, including ones Qt is halfway through
deleting (a rare segfault).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import pyqtgraph as pg
import shiboken6
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True)
class PlotColours:
    background: str
    foreground: str  # axes, tick labels, legend text
    title: str
    legend_fill: tuple[int, int, int, int]


LIGHT = PlotColours("#ffffff", "#3b4754", "#1f2933", (255, 255, 255, 220))
DARK = PlotColours("#1b2129", "#c3ccd6", "#e6edf3", (27, 33, 41, 220))


def is_dark() -> bool:
    app = QApplication.instance()
    return bool(app is not None and app.property("workbenchDark"))


def colours(dark: bool | None = None) -> PlotColours:
    return DARK if (is_dark() if dark is None else dark) else LIGHT


def configure_pyqtgraph() -> None:
    """Plots built from now on match the current theme; antialiased lines."""
    c = colours()
    pg.setConfigOptions(background=c.background, foreground=c.foreground, antialias=True)


def title_html(text: str, dark: bool | None = None) -> str:
    return f"<span style='font-size:11pt; font-weight:600; color:{colours(dark).title}'>{text}</span>"


def style_legend(legend: pg.LegendItem, dark: bool | None = None) -> None:
    c = colours(dark)
    legend.setBrush(pg.mkBrush(*c.legend_fill))
    legend.setLabelTextColor(c.foreground)
    for _sample, label in legend.items:
        label.setText(label.text, color=c.foreground)


class _BelowLegend(pg.LegendItem):
    """A legend that lives in the plot's layout: it asks the layout for its size instead of placing itself at the
    top left (pyqtgraph's floating legend does that, over the curves)."""

    def updateSize(self) -> None:
        left, top, right, bottom = self.layout.getContentsMargins()
        rows = self.layout.rowCount()
        width, height = 0.0, top + bottom + max(rows - 1, 0) * self.layout.verticalSpacing()
        for row in range(rows):
            row_width = row_height = 0.0
            for col in range(self.layout.columnCount()):
                item = self.layout.itemAt(row, col)
                if item:
                    row_width += item.preferredWidth() + 3
                    row_height = max(row_height, item.preferredHeight())
            width, height = max(width, row_width + left + right), height + row_height
        self.setPreferredSize(width, height)
        self.setMinimumHeight(height)
        self.updateGeometry()


def legend_below(item: pg.PlotItem, columns: int = 2) -> pg.LegendItem:
    """A legend under the bottom axis (row 4 of PlotItem's grid), outside the data area, so it never covers a curve;
    named curves join it by themselves."""
    legend = _BelowLegend(colCount=columns)
    item.layout.addItem(legend, 4, 1)
    item.legend = legend
    style_legend(legend)
    return legend


_live_plots: weakref.WeakSet[pg.PlotWidget] = weakref.WeakSet()


class ThemedPlotWidget(pg.PlotWidget):
    """A PlotWidget that `restyle_all` finds when the theme changes."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _live_plots.add(self)


def restyle(widget: pg.PlotWidget, dark: bool | None = None) -> None:
    """Background, axes, title and legend of one plot in the theme's colours."""
    c = colours(dark)
    widget.setBackground(c.background)
    item = widget.getPlotItem()
    for name in ("left", "bottom", "top", "right"):
        axis = item.getAxis(name)
        axis.setPen(c.foreground)
        axis.setTextPen(c.foreground)
    plain_title = getattr(widget, "plain_title", "")
    if plain_title:
        item.setTitle(title_html(plain_title, dark))
    if item.legend is not None:
        style_legend(item.legend, dark)


def restyle_all(app: QApplication, dark: bool) -> int:
    """Restyle every plot of the application; returns how many were restyled."""
    pg.setConfigOptions(background=colours(dark).background, foreground=colours(dark).foreground)
    plots = [w for w in list(_live_plots) if shiboken6.isValid(w)]
    for plot in plots:
        restyle(plot, dark)
    return len(plots)
