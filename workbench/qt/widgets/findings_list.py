"""The findings about one pane, shown under the pane's content: a header that folds them away and a capped,
scrolling column of finding cards (see `workbench.qt.widgets.findings` for the cards and the store).

Every finding updates the lists of all panes, but only a list on screen builds its cards at once: the others keep
the findings and build their cards when shown (or when `cards` is read), so a finding during a run never builds
widgets for panes nobody looks at on the GUI thread."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFrame, QScrollArea, QToolButton, QVBoxLayout, QWidget

from workbench.qt.project_model import ProjectModel
from workbench.qt.tasks import TaskManager
from workbench.qt.widgets.findings import EXAMPLE_SIDE, FindingCard, ShownFinding, read_thumbnails

MAX_LIST_HEIGHT = 240  # px: about two cards; more scroll


class FindingsList(QFrame):
    """The findings about one pane, under a header that folds them away; hidden while there are none."""

    def __init__(self, pane: str, project: ProjectModel, tasks: TaskManager | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pane = pane
        self.project = project
        self.tasks = tasks  # reads the example thumbnails in the background (without it: here, at once)
        self.setObjectName("findingsList")
        self._cards: list[FindingCard] = []
        self._unbuilt: list[ShownFinding] | None = None  # findings whose cards wait until the list is shown
        self._given: list[ShownFinding] | None = None  # the findings last given
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.header = QToolButton()
        self.header.setObjectName("findingsHeader")
        self.header.setCheckable(True)
        self.header.setChecked(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setArrowType(Qt.ArrowType.DownArrow)
        self.header.toggled.connect(self._fold)
        layout.addWidget(self.header)
        self.cards_box = QWidget()
        self.cards_layout = QVBoxLayout(self.cards_box)
        self.cards_layout.setContentsMargins(0, 0, 0, 0)
        self.cards_layout.setSpacing(6)
        self.cards_layout.addStretch(1)
        # The cards scroll inside a capped height, so many findings never push the pane's own content away.
        self.scroll = QScrollArea()
        self.scroll.setObjectName("findingsScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setMaximumHeight(MAX_LIST_HEIGHT)
        self.scroll.setWidget(self.cards_box)
        layout.addWidget(self.scroll)
        self.hide()

    @property
    def cards(self) -> list[FindingCard]:
        """The cards of the findings shown (built now if they were waiting for the list to be shown)."""
        self._build()
        return self._cards

    def set_findings(self, findings: list[ShownFinding]) -> None:
        if self._same(findings):
            return  # another pane's finding changed the store: nothing to rebuild here
        self._given = list(findings)
        self._unbuilt = list(findings)
        if self.isVisible() or not findings:  # on screen (or nothing to build): now; else when shown
            self._build()
        problems = sum(f.severity == "problem" for f in findings)
        warnings = sum(f.severity == "warning" for f in findings)
        self.header.setText(self.tr("Pitfall doctor: {0} finding(s) — {1} problem(s), {2} warning(s)").format(
            len(findings), problems, warnings))
        self.setVisible(bool(findings))

    def _same(self, findings: list[ShownFinding]) -> bool:
        try:
            return self._given is not None and bool(self._given == list(findings))
        except (ValueError, TypeError):  # evidence that does not compare (arrays): treat it as new
            return False

    def showEvent(self, event) -> None:
        self._build()
        super().showEvent(event)

    def _build(self) -> None:
        findings, self._unbuilt = self._unbuilt, None
        if findings is None:
            return
        for card in self._cards:
            card.setParent(None)
            card.deleteLater()
        self._cards = [FindingCard(f, self.project) for f in findings[:12]]
        for i, card in enumerate(self._cards):
            self.cards_layout.insertWidget(i, card)
        paths = [path for card in self._cards for path, _ in card.examples]
        if paths and self.tasks is not None:  # the same key: a newer list supersedes a read still running
            self.tasks.submit(f"finding-thumbnails-{self.pane}", read_thumbnails, paths, EXAMPLE_SIDE,
                              label=self.tr("Reading example images"), on_result=self._show_thumbnails)
        elif paths:
            self._show_thumbnails(read_thumbnails(paths, EXAMPLE_SIDE))

    def _show_thumbnails(self, images: dict[str, QImage]) -> None:
        for card in self._cards:
            card.show_thumbnails(images)

    def _fold(self, open_: bool) -> None:
        self.scroll.setVisible(open_)
        self.header.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)
