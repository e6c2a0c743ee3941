"""The pitfall doctor's findings: a shared store, and the list each pane shows of the findings about it.

A finding is the engine's `FindingRaised` (or the same fields as a dict, as read from a run's
findings.json). `FindingStore` keeps them by source ("data" for the data checks, "run" for a training
run) so that re-running the data checks replaces only their own findings. `FindingsList` shows the
findings of one pane as cards: severity, title, plain-language explanation, evidence numbers and small
images, the fix, and, where the fix is a setting, an Apply button that writes `evidence["patch"]`
through the project model. Findings that name images (suspected label errors, duplicate pairs) show
them as captioned thumbnails: given and predicted label, or the two splits that share an image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workbench.qt.project_model import ProjectModel

SEVERITY_ORDER = ("info", "warning", "problem")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
THUMB_SIDE = 96
EXAMPLE_SIDE = 64
EXAMPLES_SHOWN = 8
_HIDDEN_EVIDENCE = ("patch", "paper_item")
SOURCE_ORDER = ("data", "run")  # where one code is in several sources, the later one is shown


@dataclass(frozen=True)
class ShownFinding:
    """The fields of a finding the GUI needs, from an engine event or a dict."""

    code: str
    severity: str
    title: str
    explanation: str
    fix: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    pane: str = "train"
    status: str = "raised"  # "updated", "resolved" or "withdrawn" as the evidence changes
    history: tuple[dict[str, Any], ...] = ()

    @property
    def closed(self) -> bool:
        return self.status in ("resolved", "withdrawn")

    @classmethod
    def of(cls, finding: Any) -> ShownFinding:
        get = finding.get if isinstance(finding, dict) else (lambda k, d=None: getattr(finding, k, d))
        evidence = dict(get("evidence", {}) or {})
        if get("patch") and "patch" not in evidence:
            evidence["patch"] = dict(get("patch"))
        if get("paper_item") and "paper_item" not in evidence:
            evidence["paper_item"] = get("paper_item")
        severity = str(get("severity", "info"))
        return cls(str(get("code", "")), severity if severity in SEVERITY_ORDER else "info", str(get("title", "")),
                   str(get("explanation", "")), str(get("fix", "") or ""), evidence, str(get("pane", "train") or "train"),
                   str(get("status", "raised") or "raised"), tuple(get("history", ()) or ()))

    @property
    def patch(self) -> dict[str, Any]:
        patch = self.evidence.get("patch")
        return dict(patch) if isinstance(patch, dict) else {}

    @property
    def rank(self) -> int:
        """Closed findings sort below every open one: they are history, not a concern."""
        return SEVERITY_ORDER.index(self.severity) - (len(SEVERITY_ORDER) if self.closed else 0)


class FindingStore(QObject):
    """Every finding of the current project and run, by source; `changed` after each update."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._by_source: dict[str, dict[str, ShownFinding]] = {}
        self.checked: set[str] = set()  # sources whose checks have run ("data", "run")

    def add(self, finding: Any, source: str = "run") -> ShownFinding:
        shown = ShownFinding.of(finding)
        self._by_source.setdefault(source, {})[shown.code or shown.title] = shown
        self.changed.emit()
        return shown

    def mark_checked(self, source: str) -> None:
        """The checks of `source` have all run (a run finished): items without findings now count as passed."""
        self.checked.add(source)
        self.changed.emit()

    def replace(self, source: str, findings: list[Any]) -> None:
        self._by_source[source] = {}
        for finding in findings:
            shown = ShownFinding.of(finding)
            self._by_source[source][shown.code or shown.title] = shown
        self.checked.add(source)
        self.changed.emit()

    def clear(self, source: str | None = None) -> None:
        if source is None:
            self._by_source.clear()
            self.checked.clear()
        else:
            self._by_source.pop(source, None)
            self.checked.discard(source)
        self.changed.emit()

    def all(self) -> list[ShownFinding]:
        """Worst first; a check that reported in several sources is listed once, from the latest source (a run
        repeats the data checks, and judges labels with the trained network rather than the pixels)."""
        merged: dict[str, ShownFinding] = {}
        for source in sorted(self._by_source, key=lambda s: SOURCE_ORDER.index(s) if s in SOURCE_ORDER else 0):
            merged.update(self._by_source[source])
        return sorted(merged.values(), key=lambda f: -f.rank)

    def for_pane(self, pane: str) -> list[ShownFinding]:
        return [f for f in self.all() if f.pane == pane]


def _evidence_images(evidence: dict[str, Any]) -> list[QPixmap]:
    """Small pictures named by the evidence: image paths (or lists of them) and small 2-D/3-D arrays."""
    pixmaps: list[QPixmap] = []
    for key, value in evidence.items():
        if key in _HIDDEN_EVIDENCE:
            continue
        values = value if isinstance(value, list) and value and isinstance(value[0], str) else [value]
        for item in values[:6]:
            if isinstance(item, str) and item.lower().endswith(IMAGE_SUFFIXES) and Path(item).is_file():
                pixmap = QPixmap(item)
                if not pixmap.isNull():
                    pixmaps.append(pixmap)
            elif isinstance(item, np.ndarray) or (isinstance(item, list) and item and isinstance(item[0], list)):
                pixmap = _array_pixmap(item)
                if pixmap is not None:
                    pixmaps.append(pixmap)
    return pixmaps[:6]


def evidence_examples(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    """(image path, caption) of the images a finding names: label suspects, then duplicate pairs."""
    examples: list[tuple[str, str]] = []
    for item in evidence.get("suspects") or []:
        if isinstance(item, dict) and item.get("path"):
            caption = f"given {item.get('given', '?')}\n→ {item.get('predicted', '?')}"
            if isinstance(item.get("confidence_predicted"), (int, float)):
                caption += f" ({item['confidence_predicted']:.0%})"
            examples.append((str(item["path"]), caption))
    for item in evidence.get("pairs") or []:
        if isinstance(item, dict) and item.get("a") and item.get("b"):
            examples.append((str(item["a"]), f"{item.get('split_a', '')}: {item.get('label_a', '')}"))
            examples.append((str(item["b"]), f"{item.get('split_b', '')}: {item.get('label_b', '')}"))
    return examples[:EXAMPLES_SHOWN]


def read_thumbnails(paths: list[str], side: int) -> dict[str, QImage]:
    """Worker thread: small pictures of image files (QImage, which unlike QPixmap may be made off the GUI
    thread), decoded at thumbnail size where the format allows (JPEG). Unreadable files are left out."""
    images: dict[str, QImage] = {}
    for path in dict.fromkeys(paths):
        if not Path(path).is_file():
            continue
        reader = QImageReader(path)
        size = reader.size()
        if size.isValid() and (size.width() > side or size.height() > side):
            reader.setScaledSize(size.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
        if not image.isNull():
            # nearest neighbour when enlarging: small scans stay sharp instead of blurring
            images[path] = image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                        Qt.TransformationMode.FastTransformation)
    return images


def _example_tile(path: str, caption: str) -> tuple[QWidget, QLabel]:
    """A captioned tile whose picture arrives later (`FindingCard.show_thumbnails`)."""
    tile = QWidget()
    tile.setObjectName("findingExample")
    column = QVBoxLayout(tile)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(2)
    picture = QLabel("…")
    picture.setFixedSize(EXAMPLE_SIDE, EXAMPLE_SIDE)
    picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
    picture.setToolTip(path)
    text = QLabel(caption)
    text.setObjectName("hint")
    text.setAlignment(Qt.AlignmentFlag.AlignHCenter)
    column.addWidget(picture, 0, Qt.AlignmentFlag.AlignHCenter)
    column.addWidget(text)
    return tile, picture


def _array_pixmap(value: Any) -> QPixmap | None:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if array.ndim == 3 and array.shape[-1] not in (1, 3):
        return None
    if array.ndim not in (2, 3) or array.size == 0 or array.size > 1_000_000:
        return None
    low, high = float(np.nanmin(array)), float(np.nanmax(array))
    scaled = np.nan_to_num((array - low) / (high - low) * 255.0 if high > low else array * 0)
    pixels = np.ascontiguousarray(scaled.astype(np.uint8))
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = np.ascontiguousarray(pixels[..., 0])
    h, w = pixels.shape[:2]
    if pixels.ndim == 2:
        image = QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8)
    else:
        image = QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


def _evidence_text(evidence: dict[str, Any]) -> str:
    """The numbers and short values of the evidence, as "name: value" lines."""
    lines = []
    for key, value in evidence.items():
        if key in _HIDDEN_EVIDENCE or isinstance(value, (dict, np.ndarray)):
            continue
        if isinstance(value, str) and (value.lower().endswith(IMAGE_SUFFIXES) or len(value) > 80):
            continue
        if isinstance(value, list):
            if not value or isinstance(value[0], (list, dict)) or (isinstance(value[0], str) and
                                                                   value[0].lower().endswith(IMAGE_SUFFIXES)):
                continue
            value = ", ".join(_format(v) for v in value[:8]) + (" …" if len(value) > 8 else "")
        lines.append(f"{key.replace('_', ' ')}: {_format(value)}")
    return "\n".join(lines[:10])


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class FindingCard(QFrame):
    """One finding: severity, title, explanation, evidence, fix and Apply."""

    applied = Signal(str)  # code

    def __init__(self, finding: ShownFinding, project: ProjectModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.finding = finding
        self.project = project
        self.setObjectName("findingCard")
        self.setProperty("severity", finding.severity)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(4)
        words = {"info": self.tr("Note"), "warning": self.tr("Warning"), "problem": self.tr("Problem")}
        if finding.closed:
            note = finding.history[-1].get("note", "") if finding.history else ""
            word = self.tr("Resolved") if finding.status == "resolved" else self.tr("Withdrawn")
            title = QLabel(f"<b>{word}: {finding.title}</b>" + (f" ({note})" if note else ""))
        else:
            title = QLabel(f"<b>{words[finding.severity]}: {finding.title}</b>")
        title.setWordWrap(True)
        title.setObjectName("findingTitle")
        layout.addWidget(title)
        explanation = QLabel(finding.explanation)
        explanation.setWordWrap(True)
        explanation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(explanation)
        evidence = _evidence_text(finding.evidence)
        if evidence:
            numbers = QLabel(evidence)
            numbers.setObjectName("findingEvidence")
            numbers.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(numbers)
        images = _evidence_images(finding.evidence)
        if images:
            row = QHBoxLayout()
            for pixmap in images:
                thumb = QLabel()
                thumb.setPixmap(pixmap.scaled(THUMB_SIDE * 3, THUMB_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.FastTransformation))
                row.addWidget(thumb)
            row.addStretch(1)
            layout.addLayout(row)
        self.examples = evidence_examples(finding.evidence)
        self.pictures: list[QLabel] = []
        if self.examples:
            row = QHBoxLayout()
            row.setSpacing(10)
            for path, caption in self.examples:
                tile, picture = _example_tile(path, caption)
                self.pictures.append(picture)
                row.addWidget(tile)
            row.addStretch(1)
            layout.addLayout(row)
        fix_row = QHBoxLayout()
        self.fix_label = QLabel(self.tr("Fix: {0}").format(finding.fix) if finding.fix else "")
        self.fix_label.setObjectName("findingFix")
        self.fix_label.setWordWrap(True)
        fix_row.addWidget(self.fix_label, 1)
        self.apply_button = QPushButton(self.tr("Apply"))
        self.apply_button.setObjectName("applyFix")
        patch = finding.patch if finding.status not in ("resolved", "withdrawn") else {}
        self.plan = None
        try:
            self.plan = project.plan_fix(patch, finding.code, finding.title) if patch else None
        except KeyError:
            patch = {}
        # The patch is shown before Apply ("training.lr 0.025 → 0.0025"), with any earlier fix it would undo.
        self.plan_label = QLabel()
        self.plan_label.setObjectName("findingPlan")
        self.plan_label.setWordWrap(True)
        if self.plan is not None and not self.plan.empty:
            text = self.tr("Apply changes: {0}").format(self.plan.text())
            if self.plan.conflicts:
                text += "\n" + self.tr("Careful, this would undo an earlier fix: {0}").format("; ".join(self.plan.conflicts))
                self.apply_button.setText(self.tr("Apply anyway"))
            self.plan_label.setText(text)
        self.plan_label.setVisible(bool(self.plan_label.text()))
        layout.addWidget(self.plan_label)
        self.apply_button.setToolTip(self.plan.text() if self.plan is not None else "")
        self.apply_button.setVisible(bool(patch))
        self.apply_button.clicked.connect(self.apply)
        fix_row.addWidget(self.apply_button, 0, Qt.AlignmentFlag.AlignTop)
        self.undo_button = QPushButton(self.tr("Undo"))
        self.undo_button.setObjectName("undoFix")
        self.undo_button.setVisible(False)
        self.undo_button.clicked.connect(self.undo)
        fix_row.addWidget(self.undo_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(fix_row)
        if patch and all(self._is_set(k, v) for k, v in patch.items()):
            self._mark_applied()

    def show_thumbnails(self, images: dict[str, QImage]) -> None:
        """Fill the example tiles with the pictures read in the background ("?" for an unreadable file)."""
        for (path, _caption), picture in zip(self.examples, self.pictures, strict=True):
            image = images.get(path)
            if image is None:
                picture.setText("?")
            else:
                picture.setPixmap(QPixmap.fromImage(image))

    def _is_set(self, key: str, value: Any) -> bool:
        try:
            return self.project.get(key) == value
        except AttributeError:
            return False

    def apply(self) -> dict[str, str]:
        """Write the finding's patch into the project (recorded, for Undo); returns refused keys with reasons.

        The button of a fix that would undo an earlier one reads "Apply anyway": pressing it is the user's choice."""
        if self.plan is None:
            return {}
        errors = self.project.apply_fix(self.plan, force=True)
        if errors:
            self.fix_label.setText(self.fix_label.text() + "\n" + self.tr("Could not apply: {0}").format(
                "; ".join(f"{k}: {m}" for k, m in errors.items())))
        else:
            self._mark_applied()
            self.undo_button.setVisible(True)
            self.plan_label.setText(self.tr("Applied: {0}").format(self.plan.text()))
            self.applied.emit(self.finding.code)
        return errors

    def undo(self) -> str:
        """Undo the last applied fix (this one); returns the message shown."""
        try:
            message = self.tr("Undone: {0}").format(self.project.undo_fix())
        except ValueError as error:
            message = str(error)
        else:
            self.undo_button.setVisible(False)
            self.apply_button.setText(self.tr("Apply"))
            self.apply_button.setEnabled(True)
            self.plan = self.project.plan_fix(self.finding.patch, self.finding.code, self.finding.title)
        self.plan_label.setText(message)
        return message

    def _mark_applied(self) -> None:
        self.apply_button.setText(self.tr("Applied"))
        self.apply_button.setEnabled(False)
