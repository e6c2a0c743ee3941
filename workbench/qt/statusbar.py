"""The status-bar label that says which device training will use, with a link to the fix when CUDA is broken.

Detecting devices imports torch, so the main window runs `jobs.detect_devices` as a background task and
hands the report to `DeviceStatus.set_report`.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

FIX_URL = "https://pytorch.org/get-started/locally/"


class DeviceStatus(QLabel):
    """"GPU: NVIDIA … " or "CPU only", and a clickable fix link when CUDA is installed but not usable."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("deviceStatus")
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setOpenExternalLinks(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.problem = ""
        self.setText(self.tr("Checking for a GPU…"))

    def set_report(self, report: Any) -> None:
        self.problem = str(getattr(report, "problem", "") or "")
        available = list(getattr(report, "available", []) or [])
        description = html.escape(str(getattr(report, "description", "") or ""))
        if self.problem:
            self.setText(self.tr("⚠ GPU not usable, training on the CPU — <a href=\"{0}\">how to fix</a>").format(FIX_URL))
            self.setToolTip(self.tr("{0}\nCUDA is installed but PyTorch cannot use it; usually the PyTorch build does "
                                    "not match the NVIDIA driver. Install the matching build from {1}.").format(
                self.problem, FIX_URL))
        elif any(d != "cpu" for d in available):
            self.setText(self.tr("GPU: {0}").format(description))
            self.setToolTip(self.tr("Training will use {0}").format(description))
        else:
            self.setText(self.tr("CPU only"))
            self.setToolTip(self.tr("No GPU found; training runs on the processor ({0}).").format(description))

    def set_failed(self, message: str) -> None:
        self.setText(self.tr("Device unknown"))
        self.setToolTip(message)
