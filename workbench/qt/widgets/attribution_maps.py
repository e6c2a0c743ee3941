"""What the model looks at: one cell per class with its mean attribution map (paper, section II-E).

Each cell shows the class's mean attribution as an inferno heat map laid over the class's mean image
(bright = where the model looks), enlarged with nearest-neighbour sampling so the network's pixels stay
visible. Classes with a shortcut finding get a red frame and a warning mark, and the findings' text
stands beside the grid. `AttributionMapsView.set_maps` takes plain arrays, so the widget needs no engine.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import QCheckBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QLayout, QVBoxLayout, QWidget

from workbench.qt.widgets.image_grid import array_to_qimage

CELL = 96  # pixels per side of each map
MAX_COLUMNS = 8
FINDINGS_WIDTH = 300  # what the findings' text keeps beside the grid
FLAG_COLOUR = "#c0392b"
# matplotlib's "inferno" sampled at 17 even steps: perceptually uniform, dark = ignored, bright = looked at.
_INFERNO = np.array([
    (0, 0, 4), (11, 7, 36), (33, 12, 74), (61, 9, 101), (87, 16, 110), (113, 25, 110), (138, 34, 106), (163, 44, 97),
    (188, 55, 84), (210, 70, 68), (228, 90, 49), (241, 115, 29), (249, 142, 9), (252, 172, 17), (249, 203, 53),
    (242, 234, 105), (252, 255, 164)], dtype=np.float32) / 255.0


def inferno(values: np.ndarray) -> np.ndarray:
    """Values in 0–1 (any shape) to RGB floats in 0–1 (shape + (3,)), by linear interpolation of the inferno map."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32)), 0.0, 1.0) * (len(_INFERNO) - 1)
    low = np.floor(v).astype(np.int64)
    high = np.minimum(low + 1, len(_INFERNO) - 1)
    t = (v - low)[..., None]
    return _INFERNO[low] * (1 - t) + _INFERNO[high] * t


def heat_overlay(heat: np.ndarray, image: np.ndarray | None = None) -> np.ndarray:
    """An H×W×3 uint8 picture of one map (scaled to its own peak), over the greyscale `image` (H×W×C in 0–1).

    Where the model does not look the image shows through, dimmed; where it looks the colour takes over.
    """
    heat = np.nan_to_num(np.asarray(heat, dtype=np.float32))
    peak = float(heat.max()) if heat.size else 0.0
    scaled = heat / peak if peak > 0 else np.zeros_like(heat)
    colour = inferno(scaled)
    if image is not None and image.shape[:2] == heat.shape:
        grey = image.mean(axis=-1) if image.ndim == 3 else image
        base = np.repeat(np.clip(grey, 0, 1)[..., None], 3, axis=-1)
        weight = (0.35 + 0.65 * scaled)[..., None]  # the image stays visible under cold regions
        colour = weight * colour + (1 - weight) * base
    return np.clip(np.rint(colour * 255), 0, 255).astype(np.uint8)


def _pixmap(picture: np.ndarray, side: int) -> QPixmap:
    """Enlarged with nearest-neighbour sampling (sharp pixels), keeping the aspect ratio."""
    image = array_to_qimage(picture)
    return QPixmap.fromImage(image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.FastTransformation))


class AttributionCell(QFrame):
    """One class: its heat map and name; flagged classes get a red frame and a warning mark."""

    def __init__(self, name: str, picture: np.ndarray, flag: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attributionCell")
        self.name = name
        self.flagged = bool(flag)
        border = f"2px solid {FLAG_COLOUR}" if flag else "1px solid #e2e8f0"
        self.setStyleSheet(f"QFrame#attributionCell {{ background: #f8fafc; border: {border}; border-radius: 6px; }}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        self.picture = QLabel()
        self.picture.setFixedSize(CELL, CELL)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setPixmap(_pixmap(picture, CELL))
        self.caption = QLabel()
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setFixedWidth(CELL + 8)
        # Long class names are elided to the cell; the tooltip keeps the whole name and the finding.
        shown = self.caption.fontMetrics().elidedText(name, Qt.TextElideMode.ElideMiddle, CELL - (14 if flag else 0))
        mark = f"<span style='color:{FLAG_COLOUR}'>⚠</span> " if flag else ""
        colour = FLAG_COLOUR if flag else "#1f2933"
        self.caption.setText(f"{mark}<span style='color:{colour}'><b>{html.escape(shown)}</b></span>")
        self.setToolTip(name + (f"\n{flag}" if flag else ""))
        layout.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.caption, 0, Qt.AlignmentFlag.AlignHCenter)


class AttributionMapsView(QWidget):
    """A grid of per-class attribution cells, a one-line legend with a colour bar, and the shortcut findings."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attributionMaps")
        self.cells: list[AttributionCell] = []
        self._columns = 0
        self._shown: tuple[list[str], np.ndarray, np.ndarray | None, list[dict[str, Any]], str] | None = None
        outer = QVBoxLayout(self)
        # The grid reflows to the width it gets, so its current column count must not set the minimum width.
        outer.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(8)
        legend_row = QHBoxLayout()
        legend_row.setSpacing(8)
        self.colour_bar = QLabel()
        bar = np.rint(inferno(np.tile(np.linspace(0, 1, 120), (10, 1))) * 255).astype(np.uint8)
        self.colour_bar.setPixmap(QPixmap.fromImage(array_to_qimage(bar)))
        self.legend = QLabel()
        self.legend.setObjectName("hint")
        self.legend.setWordWrap(True)
        legend_row.addWidget(QLabel(self.tr("ignored")), 0)
        legend_row.addWidget(self.colour_bar, 0)
        legend_row.addWidget(QLabel(self.tr("looked at")), 0)
        legend_row.addWidget(self.legend, 1)
        self.underlay = QCheckBox(self.tr("Over the class's mean image"))
        self.underlay.setObjectName("attributionUnderlay")
        self.underlay.setChecked(True)
        self.underlay.setToolTip(self.tr("Lay each map over the average of the images it was computed on, to see "
                                         "which part of the picture the bright region is"))
        self.underlay.toggled.connect(self._redraw)
        legend_row.addWidget(self.underlay, 0)
        self.legend_box = QWidget()
        self.legend_box.setLayout(legend_row)
        legend_row.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.legend_box)
        body = QHBoxLayout()
        body.setSpacing(16)
        grid_box = QWidget()
        self._grid = QGridLayout(grid_box)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(8)
        body.addWidget(grid_box, 0, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)  # cells stay together
        self.findings = QLabel()
        self.findings.setObjectName("summary")
        self.findings.setWordWrap(True)
        self.findings.setTextFormat(Qt.TextFormat.RichText)
        self.findings.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.findings.setMinimumWidth(260)
        body.addWidget(self.findings, 1)
        outer.addLayout(body)
        self.clear()

    @property
    def class_names(self) -> list[str]:
        return [cell.name for cell in self.cells]

    @property
    def flagged(self) -> list[str]:
        return [cell.name for cell in self.cells if cell.flagged]

    def clear(self) -> None:
        for cell in self.cells:
            self._grid.removeWidget(cell)
            cell.hide()  # deletion waits for the event loop; a hidden cell is never painted meanwhile
            cell.deleteLater()
        self.cells = []
        self._shown = None
        self.findings.clear()
        self.findings.hide()
        self.legend_box.hide()

    def set_maps(self, class_names: Sequence[str], maps: np.ndarray, mean_images: np.ndarray | None = None,
                 findings: Sequence[dict[str, Any]] = (), caption: str = "") -> None:
        """Show C×H×W `maps` (any scale; each is shown against its own peak) of `class_names`.

        `mean_images` (C×H×W×channels in 0–1) go under the maps; `findings` are dicts with "class",
        "severity", "title" and "explanation"; `caption` completes the legend (method, images used).
        """
        self.clear()
        images = mean_images if mean_images is not None and len(mean_images) == len(maps) else None
        self._shown = (list(class_names), np.asarray(maps), images, [dict(f) for f in findings], caption)
        self._draw()

    def _redraw(self, *_: object) -> None:
        if self._shown is not None:
            self.set_maps(*self._shown)

    def _draw(self) -> None:
        assert self._shown is not None
        class_names, maps, mean_images, findings, caption = self._shown
        flags = {str(f.get("class", "")): str(f.get("title", "")) for f in findings}
        underlay = mean_images is not None and self.underlay.isChecked()
        for i, name in enumerate(class_names):
            image = mean_images[i] if underlay else None
            cell = AttributionCell(name, heat_overlay(maps[i], image), flags.get(name, ""))
            self.cells.append(cell)
        self._show_findings(findings)  # first: whether the findings' text is shown decides the columns
        self._columns = 0
        self._place()
        under = self.tr(", over the class's mean image") if underlay else ""
        self.underlay.setVisible(mean_images is not None)
        self.legend.setText(self.tr("Bright = where the model looks (mean attribution per class{0}).").format(under)
                            + (f" {caption}" if caption else ""))
        self.legend_box.setVisible(bool(self.cells))

    def columns(self) -> int:
        """As many cells per row as fit beside the findings' text (the grid reflows when the pane is resized)."""
        spacing = self._grid.horizontalSpacing()
        width = self.width() - (FINDINGS_WIDTH + 16 if not self.findings.isHidden() else 0)
        return max(1, min(MAX_COLUMNS, (width + spacing) // (CELL + 20 + spacing)))

    def minimumSizeHint(self) -> QSize:
        return QSize(CELL + 40, super().minimumSizeHint().height())

    def _place(self) -> None:
        columns = self.columns()
        if columns == self._columns:
            return
        self._columns = columns
        for cell in self.cells:
            self._grid.removeWidget(cell)
        for i, cell in enumerate(self.cells):
            self._grid.addWidget(cell, i // columns, i % columns, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.cells:
            self._place()

    def _show_findings(self, findings: Sequence[dict[str, Any]]) -> None:
        if not findings:
            self.findings.hide()
            return
        parts = []
        for f in findings:
            colour = FLAG_COLOUR if f.get("severity") == "problem" else "#b45309"
            parts.append(f"<p><b style='color:{colour}'>⚠ {html.escape(str(f.get('title', '')))}</b><br>"
                         f"{html.escape(str(f.get('explanation', '')))}"
                         + (f"<br><i>{html.escape(str(f['fix']))}</i>" if f.get("fix") else "") + "</p>")
        self.findings.setText("".join(parts))
        self.findings.show()
