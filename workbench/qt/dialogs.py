"""Small modal questions and file pickers, kept in one place so tests can replace them."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

PROJECT_FILTER = "Workbench project (*.toml);;All files (*)"


def choose_folder(parent: QWidget | None, title: str, start: str = "") -> str:
    return QFileDialog.getExistingDirectory(parent, title, start)


def choose_csv(parent: QWidget | None, title: str, start: str = "") -> str:
    path, _ = QFileDialog.getOpenFileName(parent, title, start, "CSV manifest (*.csv *.tsv *.txt);;All files (*)")
    return path


def choose_project_to_open(parent: QWidget | None, start: str = "") -> str:
    path, _ = QFileDialog.getOpenFileName(parent, parent.tr("Open project") if parent else "Open project", start,
                                          PROJECT_FILTER)
    return path


def choose_project_to_save(parent: QWidget | None, start: str = "") -> str:
    path, _ = QFileDialog.getSaveFileName(parent, parent.tr("Save project as") if parent else "Save project as",
                                          start, PROJECT_FILTER)
    if path and not path.lower().endswith(".toml"):
        path += ".toml"
    return path


def ask_save_changes(parent: QWidget | None) -> str:
    """"save", "discard" or "cancel"."""
    answer = QMessageBox.question(
        parent,
        "Unsaved changes",
        "The project has unsaved changes. Save them first?",
        QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Save,
    )
    return {QMessageBox.StandardButton.Save: "save", QMessageBox.StandardButton.Discard: "discard"}.get(
        answer, "cancel")


def confirm_stop_training(parent: QWidget | None) -> bool:
    answer = QMessageBox.question(
        parent,
        "Training is running",
        "A training run is in progress. Stop it and close Workbench?\n\n"
        "The run is stopped cleanly and a checkpoint is saved, so you can resume it later.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


def ask_recover(parent: QWidget | None, saved_at: str) -> bool:
    answer = QMessageBox.question(
        parent,
        "Recover unsaved work?",
        f"Workbench did not close normally last time. An automatic backup from {saved_at} was found.\n\n"
        "Restore it?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.Yes,
    )
    return answer == QMessageBox.StandardButton.Yes


def show_error(parent: QWidget | None, title: str, text: str, details: str = "") -> QMessageBox:
    """A non-blocking error dialog (window-modal), so background work and tests are never held up."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.setObjectName("errorDialog")
    box.open()
    return box
