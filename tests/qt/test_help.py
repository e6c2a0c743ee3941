"""Every pane has a help panel that names a section of the paper, and every input has a tooltip."""

from __future__ import annotations

import re

from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit, QSlider

from workbench.qt import help_texts

SECTION = re.compile(r"section [IVX]+(-[A-E])?")


def test_every_pane_has_help_naming_a_paper_section(window) -> None:
    assert set(window.panes) <= set(help_texts.panes_with_help())
    for key, pane in window.panes.items():
        text = pane.help_text()
        assert SECTION.search(text), key
        assert "Checklist item" in text or key in ("model", "strategy"), key


def test_the_help_toggle_shows_the_panel_on_every_pane(window) -> None:
    data = window.panes["data"]
    assert not data.help_panel.isVisibleTo(data)
    data.help_button.click()
    for pane in window.panes.values():
        assert pane.help_panel.isVisibleTo(pane)
    assert window.help_action.isChecked()
    window.panes["train"].help_button.click()
    assert not any(p.help_panel.isVisibleTo(p) for p in window.panes.values())


def test_every_input_has_a_tooltip(window) -> None:
    missing = []
    kinds = (QLineEdit, QComboBox, QAbstractSpinBox, QSlider)
    for key in ("data", "samples", "model", "strategy", "train"):
        pane = window.panes[key]
        for widget in [w for kind in kinds for w in pane.body.findChildren(kind)]:
            if isinstance(widget, QLineEdit) and isinstance(widget.parent(), (QComboBox, QAbstractSpinBox)):
                continue
            if not widget.toolTip() and not (widget.parent() and widget.parent().toolTip()):
                missing.append(f"{key}: {type(widget).__name__} {widget.objectName()}")
        for button in pane.body.findChildren(QAbstractButton):
            if type(button) is QAbstractButton or isinstance(button.parent(), QLineEdit):
                continue  # a table's corner button, a line edit's clear button
            if not button.text() and not button.toolTip():
                missing.append(f"{key}: unlabelled {type(button).__name__}")
    assert not missing, missing
