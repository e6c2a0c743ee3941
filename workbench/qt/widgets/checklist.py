"""The paper's seven-item checklist (section II-A) with the status the pitfall doctor gives each item.

An item's status is the worst severity of the findings that belong to it; with no finding it reads
"passed" once the checks that decide it have run, and "not checked" before (never a pretend pass).
The rule lives in `workbench.core.checklist`, which the report uses too.
Clicking an item leads to the pane whose findings decide it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from workbench.core import checklist as core_checklist
from workbench.qt.help_texts import CHECKLIST
from workbench.qt.widgets.findings import FindingStore, ShownFinding

STATUS_COLOURS = {"problem": "#c0392b", "warning": "#b45309", "passed": "#15803d", "not checked": "#7b8794",
                  "note": "#2563eb"}


def checklist_item(finding: ShownFinding) -> int | None:
    """The checklist item (1–7) of a finding: the engine's rule, shared with the report."""
    return core_checklist.checklist_item(finding)


def item_statuses(store: FindingStore) -> dict[int, tuple[str, list[ShownFinding]]]:
    """{item: (status, findings)} for the seven items, by the same code as the report's checklist."""
    rows = core_checklist.item_statuses(store.all(), store.checked)
    return {number: (row.status, row.findings) for number, row in rows.items()}


class ChecklistView(QWidget):
    """A tree: the seven items with their status, each finding beneath its item."""

    navigate = Signal(str)

    def __init__(self, store: FindingStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        layout = QVBoxLayout(self)
        intro = QLabel(self.tr("The basic checklist of “Training Deep Networks from Zero to Hero” (section II-A). "
                               "Double-click an item to go to the step it concerns."))
        intro.setWordWrap(True)
        intro.setObjectName("hint")
        layout.addWidget(intro)
        self.tree = QTreeWidget()
        self.tree.setObjectName("checklistTree")
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels([self.tr("Checklist item"), self.tr("Status")])
        self.tree.setColumnWidth(0, 520)
        self.tree.itemDoubleClicked.connect(self._open)
        layout.addWidget(self.tree, 1)
        store.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.tree.clear()
        statuses = item_statuses(self.store)
        words = {"problem": self.tr("problem"), "warning": self.tr("warning"), "passed": self.tr("passed"),
                 "not checked": self.tr("not checked"), "note": self.tr("note")}
        rows = core_checklist.item_statuses(self.store.all(), self.store.checked)
        for item in CHECKLIST:
            status, found = statuses[item.number]
            # Every status names the numbers it rests on ("0 duplicate pairs among 1,797 images"): the core's rule.
            basis = "; ".join(rows[item.number].basis)
            row = QTreeWidgetItem([f"{item.number}. {self.tr(item.title)} — {self.tr(item.question)}",
                                   words[status] + (f": {basis}" if basis else "")])
            row.setData(0, Qt.ItemDataRole.UserRole, item.pane)
            row.setForeground(1, _brush(STATUS_COLOURS[status]))
            row.setToolTip(0, self.tr("Checklist item {0} (section II-A)").format(item.number))
            for finding in found:
                child = QTreeWidgetItem([finding.title, finding.severity])
                child.setToolTip(0, finding.explanation)
                child.setData(0, Qt.ItemDataRole.UserRole, finding.pane)
                row.addChild(child)
            self.tree.addTopLevelItem(row)
            row.setExpanded(bool(found))

    def status_of(self, number: int) -> str:
        return item_statuses(self.store)[number][0]

    def status_text(self, number: int) -> str:
        """The status as shown, with the numbers it rests on (`workbench.core.checklist.status_line`)."""
        return core_checklist.status_line(core_checklist.item_statuses(self.store.all(), self.store.checked)[number])

    def _open(self, item: QTreeWidgetItem, _column: int) -> None:
        pane: Any = item.data(0, Qt.ItemDataRole.UserRole)
        if pane:
            self.navigate.emit(str(pane))


def _brush(colour: str):
    from PySide6.QtGui import QBrush, QColor

    return QBrush(QColor(colour))


class ChecklistDialog(QDialog):
    """The checklist in its own (modeless) window, reachable from View ▸ Checklist."""

    def __init__(self, store: FindingStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Pitfall checklist"))
        self.resize(820, 420)
        layout = QVBoxLayout(self)
        self.view = ChecklistView(store)
        layout.addWidget(self.view, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
