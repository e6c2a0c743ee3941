"""Read-only tables for lists of classes, files and metrics."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem


def table_item(value: object, align_right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(str(value))
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def read_only_table(headers: list[str]) -> QTableWidget:
    return make_read_only(QTableWidget(0, len(headers)), headers)


def make_read_only(table: QTableWidget, headers: list[str]) -> QTableWidget:
    """Give `table` (a plain one or a subclass) the look of every read-only table: whole rows selected,
    alternating rows, the first column stretched, headers on the left."""
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(False)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    return table


def set_row(table: QTableWidget, row: int, values: list[object]) -> None:
    """Fill one row; every column after the first is right-aligned (numbers). The first column (a class or file
    name) stretches, and shrinks when the window is narrow, so its full text is also its tooltip."""
    for column, value in enumerate(values):
        item = table_item(value, align_right=column > 0)
        if column == 0:
            item.setToolTip(str(value))
        table.setItem(row, column, item)
