"""`workbench --self-test`: check that every part Workbench needs loads, and print a diagnostics table."""

from __future__ import annotations

import importlib
import platform
import sys
import time
from collections.abc import Callable


def _version(module_name: str) -> Callable[[], str]:
    def check() -> str:
        module = importlib.import_module(module_name)
        return str(getattr(module, "__version__", "ok"))
    return check


def _qt() -> str:
    import os

    headless = sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if headless:  # a server or CI machine: test Qt without a screen
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtCore, QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    del app
    return f"PySide6 {QtCore.qVersion()}"


def _device() -> str:
    from workbench.core.devices import detect_devices

    report = detect_devices()
    text = f"{report.recommended} — {report.description}"
    if report.problem:
        text += f" (problem: {report.problem})"
    return text


def _cuda() -> str:
    import torch

    if not torch.cuda.is_available():
        return f"not available (torch built with CUDA {torch.version.cuda or 'none'})"
    return f"available: {torch.cuda.device_count()} device(s), CUDA {torch.version.cuda}"


def _mps() -> str:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return "available" if mps is not None and mps.is_available() else "not available"


def _plugins() -> str:
    from workbench.core.plugins import load_plugins

    status = load_plugins()
    if not status:
        return "none installed"
    broken = {k: v for k, v in status.items() if v != "ok"}
    if broken:
        raise RuntimeError("; ".join(f"{k}: {v}" for k, v in broken.items()))
    return ", ".join(status)


def _tiny_forward() -> str:
    import torch

    from workbench.core.config import ProjectConfig
    from workbench.core.models.factory import build_model

    model = build_model(ProjectConfig(), 1, 2)
    with torch.no_grad():
        out = model(torch.zeros(1, 1, 32, 32))
    return f"small CNN forward pass ok, output {tuple(out.shape)}"


CHECKS: list[tuple[str, Callable[[], str], bool]] = [
    ("python", lambda: f"{platform.python_version()} ({platform.system()} {platform.machine()})", True),
    ("workbench", _version("workbench"), True),
    ("torch", _version("torch"), True),
    ("torchvision", _version("torchvision"), True),
    ("timm", _version("timm"), True),
    ("scikit-learn", _version("sklearn"), True),
    ("numpy", _version("numpy"), True),
    ("pillow", _version("PIL"), True),
    ("Qt", _qt, True),
    ("pyqtgraph", _version("pyqtgraph"), True),
    ("umap-learn", _version("umap"), False),
    ("plugins", _plugins, False),
    ("device", _device, True),
    ("CUDA", _cuda, False),
    ("MPS", _mps, False),
    ("engine", _tiny_forward, True),
]


def run_self_test() -> int:
    """Print one line per check; exit status 1 when a required part fails."""
    failures = 0
    width = max(len(name) for name, _, _ in CHECKS)
    print(f"{'component':<{width}}  status  details")
    for name, check, required in CHECKS:
        started = time.perf_counter()
        try:
            detail, status = check(), "ok"
        except Exception as error:  # report every failure, keep checking the rest
            detail, status = f"{type(error).__name__}: {error}", "FAIL" if required else "warn"
            failures += required
        print(f"{name:<{width}}  {status:<6}  {detail}  [{(time.perf_counter() - started) * 1000:.0f} ms]")
    print("self-test passed" if not failures else f"self-test FAILED: {failures} required component(s) missing")
    return 1 if failures else 0
