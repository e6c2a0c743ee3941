"""A read-only table of the network's blocks: size, whether each trains at the start and by the end, and its rate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem, QWidget

from workbench.qt.widgets.tables import make_read_only, table_item

_FROZEN = QColor(128, 128, 128)


class LayerTable(QTableWidget):
    """One row per block from input to head, filled from `workbench.core.strategies.layout.trainable_layout` rows."""

    COLUMNS = 5

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, self.COLUMNS, parent)
        make_read_only(self, [self.tr("Block"), self.tr("Parameters"), self.tr("Trains at start"),
                              self.tr("Trains by the end"), self.tr("Learning rate")])
        self.setMinimumHeight(140)
        self.layout_rows: list[dict[str, Any]] = []

    def _item(self, text: str, right: bool = False, frozen: bool = False) -> QTableWidgetItem:
        item = table_item(text, align_right=right)
        if frozen:
            item.setForeground(QBrush(_FROZEN))
        return item

    def _trains(self, trainable: bool, note: str) -> str:
        text = self.tr("yes") if trainable else self.tr("frozen")
        return f"{text} ({note})" if note else text

    def set_layout(self, rows: Sequence[dict[str, Any]]) -> None:
        """Show the layout; frozen blocks are greyed."""
        self.layout_rows = list(rows)
        self.setRowCount(len(self.layout_rows))
        for r, row in enumerate(self.layout_rows):
            start, end = bool(row.get("trainable_start")), bool(row.get("trainable_end"))
            frozen = not (start or end)
            note = str(row.get("note", ""))
            lr = row.get("lr")
            values = [
                (str(row.get("name", "")), False),
                (f"{int(row.get('params', 0)):,}", True),
                (self._trains(start, note if not start else ""), False),
                (self._trains(end, ""), False),
                (f"{lr:.2e}" if isinstance(lr, (int, float)) and (start or end) else "–", True),
            ]
            for c, (text, right) in enumerate(values):
                self.setItem(r, c, self._item(text, right, frozen))

    def trainable_counts(self) -> tuple[int, int]:
        """Blocks trainable at the start and by the end (for summaries and tests)."""
        return (sum(bool(r.get("trainable_start")) for r in self.layout_rows),
                sum(bool(r.get("trainable_end")) for r in self.layout_rows))
