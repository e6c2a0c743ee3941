"""Confusion matrix as a heat map: true classes down, predicted classes across, counts in the cells.

Cells are shaded by the share of each true class (row-normalised), so rare classes read as clearly
as common ones; the count is printed in each cell and the diagonal is outlined.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

_LOW = np.array([247, 250, 255], dtype=float)
_HIGH = np.array([29, 78, 216], dtype=float)


def shade(fraction: float) -> QColor:
    """White-to-blue colour for a share between 0 and 1."""
    t = float(np.clip(fraction, 0.0, 1.0)) ** 0.8
    r, g, b = (_LOW + (_HIGH - _LOW) * t).astype(int)
    return QColor(int(r), int(g), int(b))


class ConfusionHeatmap(QWidget):
    """Paints a confusion matrix; `set_matrix(matrix, class_names)` replaces it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("confusionHeatmap")
        self.matrix = np.zeros((0, 0), dtype=int)
        self.class_names: list[str] = []
        self.setMinimumSize(320, 300)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_matrix(self, matrix, class_names: list[str]) -> None:
        self.matrix = np.asarray(matrix, dtype=int)
        self.class_names = list(class_names)
        self.updateGeometry()
        self.update()

    def clear(self) -> None:
        self.set_matrix(np.zeros((0, 0), dtype=int), [])

    def sizeHint(self) -> QSize:
        n = max(len(self.class_names), 3)
        side = min(640, 140 + 44 * n)
        return QSize(side + 40, side)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("white"))
        n = len(self.class_names)
        if n == 0 or self.matrix.size == 0:
            painter.setPen(QColor("#6b7785"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.tr("No confusion matrix yet"))
            return
        font = QFont(self.font())
        metrics = painter.fontMetrics()
        label_w = min(140, max(metrics.horizontalAdvance(c) for c in self.class_names) + 16)
        left, top = label_w + 26, 46
        side = max(8.0, min((self.width() - left - 12) / n, (self.height() - top - 12) / n))
        widest = max(metrics.horizontalAdvance(c) for c in self.class_names)
        rotate = widest > side - 6
        if rotate:  # slanted column labels, so long class names stay readable
            header = min(widest, 140) * 0.72 + 10
            top = 24 + header
            side = max(8.0, min((self.width() - left - 12) / n, (self.height() - top - 12) / n))
        rows = self.matrix.sum(axis=1, keepdims=True).clip(min=1)
        shares = self.matrix / rows
        # axis titles
        bold = QFont(font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(QColor("#1f2933"))
        painter.drawText(QRectF(left, 0, side * n, 20), Qt.AlignmentFlag.AlignCenter, self.tr("Predicted class"))
        painter.save()
        painter.translate(12, top + side * n / 2)
        painter.rotate(-90)
        painter.drawText(QRectF(-side * n / 2, -10, side * n, 20), Qt.AlignmentFlag.AlignCenter,
                         self.tr("True class"))
        painter.restore()
        painter.setFont(font)
        painter.setPen(QColor("#3b4754"))
        for i, name in enumerate(self.class_names):
            if rotate:
                painter.save()
                painter.translate(left + (i + 0.5) * side, top - 6)
                painter.rotate(-45)
                painter.drawText(QRectF(0, -10, 140, 20), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                                 metrics.elidedText(name, Qt.TextElideMode.ElideRight, 140))
                painter.restore()
            else:
                column = QRectF(left + i * side, 22, side, 22)
                painter.drawText(column, Qt.AlignmentFlag.AlignCenter, name)
            row = QRectF(20, top + i * side, label_w, side)
            painter.drawText(row, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             metrics.elidedText(name, Qt.TextElideMode.ElideRight, label_w - 8))
        cell_font = QFont(font)
        cell_font.setPointSizeF(max(6.0, min(font.pointSizeF(), side / 3.2)))
        painter.setFont(cell_font)
        for i in range(n):
            for j in range(n):
                cell = QRectF(left + j * side, top + i * side, side, side)
                painter.fillRect(cell, shade(shares[i, j]))
                painter.setPen(QColor("white") if shares[i, j] > 0.55 else QColor("#1f2933"))
                if side >= 18:
                    painter.drawText(cell, Qt.AlignmentFlag.AlignCenter, str(int(self.matrix[i, j])))
        painter.setPen(QPen(QColor("#dbe2ea"), 1))
        for k in range(n + 1):
            painter.drawLine(int(left), int(top + k * side), int(left + n * side), int(top + k * side))
            painter.drawLine(int(left + k * side), int(top), int(left + k * side), int(top + n * side))
        painter.setPen(QPen(QColor("#1f2933"), 1.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for k in range(n):
            painter.drawRect(QRectF(left + k * side, top + k * side, side, side))
