"""A live line plot: named series backed by growing numpy buffers, redrawn with `setData`.

The legend sits below the axes, in the plot's own layout, so it never covers a curve.

Appending only marks a series as changed. A shared scheduler then redraws one changed, visible plot
per tick, so a fast stream of points never keeps the GUI thread busy for long: each pause of the
event loop is a single plot's repaint, never all of them at once.

The same holds when a pane's layout changes (a finding appears above the plots, the window is resized) or a
plot is first shown: every plot resized in one layout pass would repaint in the same frame, each re-rendering its
axes and grid (10-20 ms a plot), so a `StaggeredPlotWidget` holds its repaint back and the plots repaint one per
slice of the event loop (`stagger`), within about a tenth of a second altogether.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QGraphicsItem, QWidget

from workbench.qt.plot_theme import ThemedPlotWidget, configure_pyqtgraph, legend_below, style_legend, title_html

__all__ = ["PALETTE", "CurvePlot", "StaggeredPlotWidget", "cache_static_parts", "configure_pyqtgraph", "stagger"]

PALETTE = {
    "blue": "#2563eb",
    "orange": "#ea7a1a",
    "green": "#2f9e6b",
    "purple": "#7c3aed",
    "grey": "#9aa5b1",
    "red": "#d14343",
}


def cache_static_parts(item: pg.PlotItem) -> None:
    """Render axes, title and legend into cached pixmaps; replaying their text on every frame is the
    slowest part of a repaint, and they change far less often than the curves."""
    cache = QGraphicsItem.CacheMode.DeviceCoordinateCache
    for name in ("left", "bottom", "top", "right"):
        item.getAxis(name).setCacheMode(cache)
    item.titleLabel.setCacheMode(cache)
    if item.legend is not None:
        item.legend.setCacheMode(cache)


REDRAW_TICK_MS = 100
STAGGER_GAP_MS = 10  # between two staggered repaints: the event loop serves input and timers in between


class _RedrawScheduler(QObject):
    """Redraws waiting plots one per tick, round-robin."""

    def __init__(self) -> None:
        super().__init__()
        self._queue: deque[CurvePlot] = deque()
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_TICK_MS)
        self._timer.timeout.connect(self._tick)

    def request(self, plot: CurvePlot) -> None:
        if plot not in self._queue:
            self._queue.append(plot)
        if not self._timer.isActive():
            self._timer.start()

    def forget(self, plot: CurvePlot) -> None:
        if plot in self._queue:
            self._queue.remove(plot)

    def _tick(self) -> None:
        while self._queue:
            plot = self._queue.popleft()
            if plot.flush():
                break
        if not self._queue:
            self._timer.stop()


_scheduler: _RedrawScheduler | None = None


def scheduler() -> _RedrawScheduler:
    global _scheduler
    if _scheduler is None:
        _scheduler = _RedrawScheduler()
    return _scheduler


class _Stagger(QObject):
    """Repaints the plots handed to it one per slice of the event loop (QTimer.singleShot slices, a short gap apart,
    so that input and timers get in between)."""

    def __init__(self) -> None:
        super().__init__()
        self.queue: deque[QWidget] = deque()
        self._scheduled = False

    def add(self, plot: QWidget) -> None:
        plot.setUpdatesEnabled(False)  # no paint in this frame: its turn comes in a slice of its own
        if plot not in self.queue:
            self.queue.append(plot)
        if not self._scheduled:
            self._scheduled = True
            QTimer.singleShot(STAGGER_GAP_MS, self._next)

    def _next(self) -> None:
        self._scheduled = False
        while self.queue:
            plot = self.queue.popleft()
            if shiboken6.isValid(plot):
                plot.setUpdatesEnabled(True)
                if plot.isVisible():
                    plot.viewport().repaint()
                break
        if self.queue:
            self._scheduled = True
            QTimer.singleShot(STAGGER_GAP_MS, self._next)


_stagger: _Stagger | None = None


def stagger(plot: QWidget) -> None:
    """Hold back `plot`'s repaint and give it a slice of the event loop of its own, after the plots queued before."""
    global _stagger
    if _stagger is None:
        _stagger = _Stagger()
    _stagger.add(plot)


class StaggeredPlotWidget(ThemedPlotWidget):
    """A PlotWidget that repaints in a slice of its own after it is shown or resized (see `stagger`)."""

    def showEvent(self, event) -> None:
        super().showEvent(event)
        stagger(self)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event is not None and self.isVisible():
            stagger(self)


class SeriesBuffer:
    """Amortised-growth x/y arrays for one series."""

    def __init__(self, capacity: int = 256) -> None:
        self._x = np.empty(capacity)
        self._y = np.empty(capacity)
        self.size = 0

    def append(self, x: float, y: float) -> None:
        if self.size == len(self._x):
            self._x = np.resize(self._x, 2 * self.size)
            self._y = np.resize(self._y, 2 * self.size)
        self._x[self.size] = x
        self._y[self.size] = y
        self.size += 1

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.size]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.size]

    def clear(self) -> None:
        self.size = 0


class CurvePlot(StaggeredPlotWidget):
    """A titled plot with a legend; `append(key, x, y)` adds a point to a series and redraws it."""

    def __init__(self, title: str, y_label: str, x_label: str = "epoch", parent: QWidget | None = None,
                 show_legend: bool = True, legend_columns: int = 2) -> None:
        configure_pyqtgraph()
        super().__init__(parent=parent, enableMenu=False)  # no context menus: faster to build
        self.setMinimumHeight(180)
        item = self.getPlotItem()
        self.plain_title = title  # re-coloured when the theme changes
        item.setTitle(title_html(title))
        item.setLabel("left", y_label)
        item.setLabel("bottom", x_label)
        item.showGrid(x=True, y=True, alpha=0.15)
        # Below the axes, outside the data area. A plot without a legend keeps one, unattached, for the theme.
        if show_legend:
            self.legend = legend_below(item, legend_columns)
        else:
            self.legend = pg.LegendItem(colCount=legend_columns)
            self.legend.hide()
            style_legend(self.legend)
        cache_static_parts(item)
        self._series: dict[str, tuple[SeriesBuffer, pg.PlotDataItem]] = {}
        self._names: dict[str, str] = {}
        self._in_legend: set[str] = set()  # only series with data are listed, so the legend stays short
        self._changed: set[str] = set()
        self.destroyed.connect(lambda: _scheduler.forget(self) if _scheduler is not None else None)

    def add_series(self, key: str, name: str, color: str, width: float = 2.0, symbol: str | None = None,
                   dashed: bool = False) -> None:
        pen = pg.mkPen(PALETTE.get(color, color), width=width,
                       style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
        kwargs = {}
        if symbol:
            kwargs = {"symbol": symbol, "symbolSize": 7, "symbolBrush": PALETTE.get(color, color), "symbolPen": None}
        curve = self.getPlotItem().plot([], [], pen=pen, **kwargs)  # unnamed: it joins the legend with its data
        curve.setClipToView(True)
        curve.setDownsampling(auto=True, method="peak")
        self._series[key] = (SeriesBuffer(), curve)
        self._names[key] = name

    def append(self, key: str, x: float, y: float) -> None:
        """Add a point; the plot is redrawn by the scheduler shortly after (one plot per tick)."""
        if y is None or not np.isfinite(y):
            return
        self._series[key][0].append(x, y)
        self._changed.add(key)
        scheduler().request(self)

    def flush(self) -> bool:
        """Redraw every changed series now; returns False (and waits to be shown) when hidden."""
        if not self.isVisible() or not self._changed:
            return False
        for key in self._changed:
            buffer, curve = self._series[key]
            curve.setData(buffer.x, buffer.y)
        self._list(*self._changed)  # one legend rebuild for every series that got its first points
        self._changed.clear()
        self.viewport().repaint()  # paint now, alone, rather than with every other dirty widget
        return True

    def set_x_span(self, low: float, high: float) -> None:
        """Fix the x axis (e.g. to the run's epochs), so new points do not re-layout its ticks."""
        item = self.getPlotItem()
        item.enableAutoRange(x=False)
        item.setXRange(low, high, padding=0.02)
        if self.isVisible():
            stagger(self)  # new axis ticks on every plot at once: repaint them one by one

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._changed:
            scheduler().request(self)

    def _list(self, *keys: str) -> None:
        """Add series to the legend once they have points (in the order the series were declared)."""
        new = {k for k in keys if k not in self._in_legend and self._series[k][0].size}
        if not new or self.getPlotItem().legend is None:
            return
        self._in_legend |= new
        self.legend.clear()
        for name in self._series:
            if name in self._in_legend:
                self.legend.addItem(self._series[name][1], self._names[name])
        style_legend(self.legend)

    def legend_names(self) -> list[str]:
        return [label.text for _sample, label in self.legend.items]

    def set_series(self, key: str, xs, ys) -> None:
        buffer, curve = self._series[key]
        buffer.clear()
        for x, y in zip(xs, ys, strict=True):
            buffer.append(x, y)
        curve.setData(buffer.x, buffer.y)
        self._list(key)

    def series_length(self, key: str) -> int:
        return self._series[key][0].size

    def series_data(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        buffer = self._series[key][0]
        return buffer.x.copy(), buffer.y.copy()

    def clear_data(self) -> None:
        self._changed.clear()
        for buffer, curve in self._series.values():
            buffer.clear()
            curve.setData([], [])
        self._in_legend.clear()
        self.legend.clear()
