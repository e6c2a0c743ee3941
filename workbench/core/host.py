"""What shares this process with the engine: an interactive window, or nothing (headless CLI, tests, scripts).

The GUI's runner declares itself (`set_interactive_host`) before it starts a run. Helper processes exist to
keep a window's GIL and training's cores free; once training is over, headless work needs no process. This
module imports nothing heavy, so the window can declare itself without loading torch.
"""

from __future__ import annotations

_interactive = False


def set_interactive_host(interactive: bool = True) -> None:
    """Declare that a window's event loop runs in this process (its GIL must stay free for the window)."""
    global _interactive
    _interactive = interactive


def interactive_host() -> bool:
    return _interactive
