"""The Workbench desktop GUI (PySide6 and pyqtgraph); the only layer that imports Qt.

Start it with `workbench` or `python -m workbench.qt`; `workbench.qt.app.main()` is the entry point.
"""

# Reports written from the GUI and the CLI pass Qt's PDF renderer (workbench.qt.report_pdf) explicitly; the
# report package is not imported here, so that opening the window does not wait for it.

import sys


class _NoCudaForPlots:
    """pyqtgraph's RawImageWidget imports cuda-python (0.1–0.3 s at start-up) for GPU-side image drawing, which
    Workbench never uses; while that module loads, cuda-python reads as absent. Anything else (torch) still
    imports it as usual."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "cuda.bindings" or name.startswith("cuda.bindings."):
            loading = sys.modules.get("pyqtgraph.widgets.RawImageWidget")
            if loading is not None and not hasattr(loading, "RawImageWidget"):
                raise ImportError("cuda-python is not needed by Workbench's plots")
        return None


if not any(isinstance(finder, _NoCudaForPlots) for finder in sys.meta_path):
    sys.meta_path.insert(0, _NoCudaForPlots())
