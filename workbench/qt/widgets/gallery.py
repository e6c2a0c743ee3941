"""The misclassified gallery: each of the worst errors as the image beside its saliency overlay, captioned
with the true class, the wrong prediction and its confidence.

`ErrorGallery.set_items(items)` takes dicts with "true_label", "predicted", "confidence", "method" and
"strip" (an H×W×3 uint8 array: image, gap, overlay side by side, as the engine saves them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from workbench.qt.widgets.image_grid import array_to_qimage

TILE_HEIGHT = 104
COLUMNS = 4


class ErrorTile(QFrame):
    """One misclassified image with its overlay and a two-line caption."""

    def __init__(self, item: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pairTile")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(4)
        self.picture = QLabel()
        self.picture.setObjectName("imagePicture")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        strip = item.get("strip")
        if isinstance(strip, np.ndarray) and strip.size:
            from PySide6.QtGui import QPixmap

            image = array_to_qimage(strip)
            scaled = image.scaledToHeight(TILE_HEIGHT, Qt.TransformationMode.SmoothTransformation)
            self.picture.setPixmap(QPixmap.fromImage(scaled))
        else:
            self.picture.setText(self.tr("no picture"))
        self.picture.setToolTip(self.tr("Left: the image as the network saw it. Right: {0} evidence for the "
                                        "predicted class.").format(item.get("method", "saliency")))
        self.caption = QLabel(self.tr("true <b>{0}</b> → predicted <b>{1}</b><br>confidence {2:.0%} · {3}").format(
            item.get("true_label", "?"), item.get("predicted", "?"), float(item.get("confidence", 0.0)),
            item.get("method", "")))
        self.caption.setObjectName("imageCaption")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setToolTip(str(item.get("path", "")))
        layout.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.caption)


class ErrorGallery(QWidget):
    """A grid of error tiles, most confident errors first; says so when there are none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorGallery")
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(10)
        self.tiles: list[ErrorTile] = []
        self.empty = QLabel()
        self.empty.setObjectName("hint")
        self.empty.setWordWrap(True)
        self._layout.addWidget(self.empty, 0, 0, 1, COLUMNS)
        self.set_items([])

    def set_items(self, items: list[dict[str, Any]], message: str = "") -> None:
        for tile in self.tiles:
            self._layout.removeWidget(tile)
            tile.deleteLater()
        self.tiles = []
        self.empty.setText(message or self.tr("No misclassified test images to show."))
        self.empty.setVisible(not items)
        for i, item in enumerate(items):
            tile = ErrorTile(item)
            self._layout.addWidget(tile, 1 + i // COLUMNS, i % COLUMNS, Qt.AlignmentFlag.AlignTop)
            self.tiles.append(tile)
        for column in range(COLUMNS):
            self._layout.setColumnStretch(column, 1)
