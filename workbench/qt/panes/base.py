"""The frame shared by every pane: a title, a one-line explanation, a notice banner and scrolling content.

A pane that lacks what it needs (no dataset yet, no finished run) says so in its banner, with a
button that leads to the step that provides it, rather than disabling itself without a word.
Every pane also gets a help side panel (texts from `workbench.qt.help_texts`, toggled by the Help button
or F1) and a findings list, where the pitfall doctor's findings about this pane appear.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from workbench.qt import help_texts
from workbench.qt.context import PaneContext
from workbench.qt.widgets.findings_list import FindingsList
from workbench.qt.widgets.step_list import StepState, StepStatus


class Banner(QFrame):
    """A coloured notice with an optional button ("Go to Data")."""

    action = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 10, 10, 10)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.button = QPushButton()
        self.button.clicked.connect(self.action)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.hide()

    def show_message(self, text: str, kind: str = "attention", button: str = "") -> None:
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        self.text.setText(text)
        self.button.setText(button)
        self.button.setVisible(bool(button))
        self.show()


def group(title: str, *children: QWidget | QLayout, parent: QWidget | None = None, stretch: bool = False
          ) -> QGroupBox:
    """A titled box holding widgets and layouts, stacked vertically (`stretch`: keep them at the top)."""
    box = QGroupBox(title, parent)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(14, 18, 14, 14)
    layout.setSpacing(10)
    for child in children:
        if isinstance(child, QLayout):
            layout.addLayout(child)
        else:
            layout.addWidget(child)
    if stretch:
        layout.addStretch(1)
    return box


def hint(text: str) -> QLabel:
    """Grey explanatory text."""
    label = QLabel(text)
    label.setObjectName("hint")
    label.setWordWrap(True)
    return label


class Pane(QWidget):
    """Base of every wizard pane. Subclasses fill `self.body` and implement `status()`."""

    key = ""
    title = ""
    subtitle = ""

    status_changed = Signal()
    navigate = Signal(str)  # key of the step to show
    help_toggled = Signal(bool)

    def __init__(self, context: PaneContext, parent: QWidget | None = None, scroll: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName(f"pane_{self.key}")
        self.ctx = context
        self.project = context.project
        outer = QVBoxLayout(self)
        outer.setContentsMargins(28, 22, 28, 16)
        outer.setSpacing(10)
        heading = QLabel(self.tr(self.title))
        heading.setObjectName("paneTitle")
        self.help_button = QPushButton(self.tr("Help"))
        self.help_button.setObjectName("helpButton")
        self.help_button.setCheckable(True)
        self.help_button.setShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents))
        self.help_button.setToolTip(self.tr("Show or hide the explanation of the choices on this page (F1)"))
        self.help_button.toggled.connect(self.set_help_visible)
        title_row = QHBoxLayout()
        title_row.addWidget(heading, 1)
        title_row.addWidget(self.help_button, 0, Qt.AlignmentFlag.AlignTop)
        explanation = QLabel(self.tr(self.subtitle))
        explanation.setObjectName("paneSubtitle")
        explanation.setWordWrap(True)
        outer.addLayout(title_row)
        outer.addWidget(explanation)
        self.banner = Banner()
        self.banner.action.connect(self._on_banner_action)
        self._banner_target = ""
        outer.addWidget(self.banner)
        self.findings = FindingsList(self.key, context.project, context.tasks)
        outer.addWidget(self.findings)
        self.body = QWidget()
        self.body.setObjectName("paneBody")
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 4, 6, 0)
        self.body_layout.setSpacing(14)
        self.help_panel = QTextBrowser()
        self.help_panel.setObjectName("helpPanel")
        self.help_panel.setOpenExternalLinks(True)
        self.help_panel.setHtml(help_texts.help_html(self.key))
        self.help_panel.setMinimumWidth(260)
        self.help_panel.hide()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        if scroll:
            area = QScrollArea()
            area.setWidgetResizable(True)
            area.setFrameShape(QFrame.Shape.NoFrame)
            area.setWidget(self.body)
            self.splitter.addWidget(area)
        else:
            self.splitter.addWidget(self.body)
        self.splitter.addWidget(self.help_panel)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        outer.addWidget(self.splitter, 1)

    # --- help -------------------------------------------------------------------------------------

    def help_text(self) -> str:
        """The help panel's text (plain), for tests and accessibility."""
        return self.help_panel.toPlainText()

    def set_help_visible(self, visible: bool) -> None:
        if visible == self.help_panel.isVisibleTo(self) and visible == self.help_button.isChecked():
            return
        self.help_button.setChecked(visible)
        self.help_panel.setVisible(visible)
        if visible:
            self.splitter.setSizes([max(self.width() - 340, 400), 320])
        self.help_toggled.emit(visible)

    # --- the banner -------------------------------------------------------------------------------

    def show_notice(self, text: str, kind: str = "attention", target: str = "", button: str = "") -> None:
        """Show a notice; with `target`, its button leads to that step."""
        self._banner_target = target
        self.banner.show_message(text, kind, button or (self.tr("Go to {0}").format(target.capitalize())
                                                        if target else ""))

    def clear_notice(self) -> None:
        self.banner.hide()
        self._banner_target = ""

    def _on_banner_action(self) -> None:
        if self._banner_target:
            self.navigate.emit(self._banner_target)

    # --- status -----------------------------------------------------------------------------------

    def status(self) -> StepStatus:
        return StepStatus(StepState.NOT_STARTED)

    def shown(self) -> None:
        """Called when the pane becomes visible (for refreshing previews lazily)."""
