"""Image tiles and grids for sample previews.

`ImageTile` shows one HxWx3 uint8 array in a fixed box, scaled with nearest-neighbour sampling when
enlarged (so the pixels the network sees stay visible) and smoothly when shrunk, with a caption.
`ImageGrid` lays out rows of tiles with a row title, e.g. one row per class.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget


def array_to_qimage(array: np.ndarray) -> QImage:
    """HxW or HxWx3 uint8 array to a QImage that owns its pixels."""
    data = np.ascontiguousarray(array)
    if data.dtype != np.uint8:
        data = np.clip(data, 0, 255).astype(np.uint8)
    if data.ndim == 2:
        height, width = data.shape
        image = QImage(data.data, width, height, width, QImage.Format.Format_Grayscale8)
    else:
        if data.shape[2] == 1:
            return array_to_qimage(data[:, :, 0])
        data = np.ascontiguousarray(data[:, :, :3])
        height, width = data.shape[:2]
        image = QImage(data.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return image.copy()


def scaled_pixmap(array: np.ndarray, box: int) -> QPixmap:
    image = array_to_qimage(array)
    enlarge = max(image.width(), image.height()) < box
    mode = Qt.TransformationMode.FastTransformation if enlarge else Qt.TransformationMode.SmoothTransformation
    return QPixmap.fromImage(image.scaled(box, box, Qt.AspectRatioMode.KeepAspectRatio, mode))


class ImageTile(QFrame):
    """One picture in a square box with a caption underneath."""

    def __init__(self, array: np.ndarray | None = None, caption: str = "", box: int = 96,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageTile")
        self._box = box
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        self.picture = QLabel()
        self.picture.setFixedSize(QSize(box, box))
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setObjectName("imagePicture")
        self.caption = QLabel(caption)
        self.caption.setObjectName("imageCaption")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.caption)
        if array is not None:
            self.set_image(array, caption)

    def set_image(self, array: np.ndarray, caption: str | None = None) -> None:
        self.picture.setPixmap(scaled_pixmap(array, self._box))
        if caption is not None:
            self.caption.setText(caption)

    def set_message(self, text: str) -> None:
        self.picture.clear()
        self.picture.setText(text)
        self.picture.setWordWrap(True)


class ImageGrid(QWidget):
    """Rows of widgets, each row with a title on the left."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setHorizontalSpacing(10)
        self._layout.setVerticalSpacing(10)
        self._rows = 0

    def clear(self) -> None:
        while self._layout.count():
            item = self._layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self._rows = 0

    def add_row(self, title: str, widgets: list[QWidget], subtitle: str = "") -> None:
        label = QLabel(f"<b>{title}</b>" + (f"<br><span style='color:#6b7785'>{subtitle}</span>" if subtitle else ""))
        label.setObjectName("gridRowTitle")
        label.setMinimumWidth(90)
        label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._layout.addWidget(label, self._rows, 0)
        for column, widget in enumerate(widgets, start=1):
            self._layout.addWidget(widget, self._rows, column, Qt.AlignmentFlag.AlignLeft)
        self._layout.setColumnStretch(len(widgets) + 1, 1)
        self._rows += 1

    @property
    def row_count(self) -> int:
        return self._rows


class PairTile(QFrame):
    """Original picture and network view side by side, for one sample."""

    def __init__(self, original: np.ndarray, network: np.ndarray, box: int = 88,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pairTile")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        height, width = original.shape[:2]
        net_h, net_w = network.shape[:2]
        self.original = ImageTile(original, f"original {width}×{height}", box)
        self.network = ImageTile(network, f"network {net_w}×{net_h}", box)
        layout.addWidget(self.original)
        layout.addWidget(self.network)
