"""The wizard's step list: one row per step with its number, title and status.

Statuses are "not started" (grey), "ready" (green) and "needs attention" (amber). Every step can
be selected at any time; a step that lacks something explains it in its own pane.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget


class StepState(Enum):
    NOT_STARTED = "not started"
    READY = "ready"
    ATTENTION = "needs attention"


@dataclass(frozen=True)
class StepStatus:
    state: StepState
    message: str = ""  # one short line shown under the title

    @property
    def text(self) -> str:
        return self.message or self.state.value.capitalize()


STATE_COLORS = {
    StepState.NOT_STARTED: QColor("#9aa5b1"),
    StepState.READY: QColor("#2f9e6b"),
    StepState.ATTENTION: QColor("#d9822b"),
}

_STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
_KEY_ROLE = Qt.ItemDataRole.UserRole + 2
_NUMBER_ROLE = Qt.ItemDataRole.UserRole + 3


class _StepDelegate(QStyledItemDelegate):
    """Paints a numbered status badge, the step title, and its status line."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(200, 58)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected:  # palette roles, so the dark theme gets a dark selection
            painter.fillRect(rect, option.palette.color(QPalette.ColorRole.Base))
            painter.fillRect(QRect(rect.left(), rect.top(), 4, rect.height()), QColor("#2563eb"))
        elif hovered:
            painter.fillRect(rect, option.palette.color(QPalette.ColorRole.AlternateBase))
        status: StepStatus = index.data(_STATUS_ROLE) or StepStatus(StepState.NOT_STARTED)
        color = STATE_COLORS[status.state]
        badge = QRect(rect.left() + 16, rect.center().y() - 13, 26, 26)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawEllipse(badge)
        number_font = QFont(option.font)
        number_font.setBold(True)
        painter.setFont(number_font)
        painter.setPen(QColor("white"))
        mark = {StepState.READY: "✓", StepState.ATTENTION: "!"}.get(status.state, str(index.data(_NUMBER_ROLE)))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, mark)
        text_left = badge.right() + 12
        title_font = QFont(option.font)
        title_font.setPointSizeF(option.font.pointSizeF() * 1.08)
        title_font.setBold(selected)
        painter.setFont(title_font)
        painter.setPen(option.palette.color(QPalette.ColorRole.Text))
        title_rect = QRect(text_left, rect.top() + 9, rect.right() - text_left - 8, 22)
        painter.drawText(title_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         index.data(Qt.ItemDataRole.DisplayRole))
        small = QFont(option.font)
        small.setPointSizeF(option.font.pointSizeF() * 0.9)
        painter.setFont(small)
        painter.setPen(color.darker(125) if status.state != StepState.NOT_STARTED else QColor("#6b7785"))
        status_rect = QRect(text_left, rect.top() + 30, rect.right() - text_left - 8, 18)
        elided = painter.fontMetrics().elidedText(status.text, Qt.TextElideMode.ElideRight, status_rect.width())
        painter.drawText(status_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, elided)
        painter.restore()


class StepList(QListWidget):
    """Selectable list of wizard steps; `step_selected(key)` fires when the user picks one."""

    step_selected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stepList")
        self.setItemDelegate(_StepDelegate(self))
        self.setMouseTracking(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setFixedWidth(230)
        self.currentRowChanged.connect(self._on_row_changed)

    def add_step(self, key: str, title: str) -> None:
        item = QListWidgetItem(title)
        item.setData(_KEY_ROLE, key)
        item.setData(_NUMBER_ROLE, self.count() + 1)
        item.setData(_STATUS_ROLE, StepStatus(StepState.NOT_STARTED))
        self.addItem(item)

    def keys(self) -> list[str]:
        return [self.item(i).data(_KEY_ROLE) for i in range(self.count())]

    def _item(self, key: str) -> QListWidgetItem:
        return self.item(self.keys().index(key))

    def set_status(self, key: str, status: StepStatus) -> None:
        item = self._item(key)
        item.setData(_STATUS_ROLE, status)
        item.setToolTip(f"{item.text()}: {status.text}")

    def status(self, key: str) -> StepStatus:
        return self._item(key).data(_STATUS_ROLE)

    def select(self, key: str) -> None:
        self.setCurrentRow(self.keys().index(key))

    def current_key(self) -> str:
        item = self.currentItem()
        return item.data(_KEY_ROLE) if item is not None else ""

    def _on_row_changed(self, row: int) -> None:
        if row >= 0:
            self.step_selected.emit(self.item(row).data(_KEY_ROLE))
