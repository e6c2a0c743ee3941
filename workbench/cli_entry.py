"""The console script and `python -m workbench`: run the command, then, after a command-line job, exit quickly."""

from __future__ import annotations

import contextlib
import os
import sys

from workbench import cli


def entry() -> None:
    """The console script and `python -m workbench`: main(), then, after a command-line job, a quick exit.

    Python's own teardown of torch, timm and the rest takes 1.5-2 s at the end of every `workbench train`.
    Everything the job wrote is closed by then; the exit handlers still run (temporary folders, logging),
    the output is flushed, and only the modules' teardown is skipped. The window exits normally (Qt writes
    its settings while it is torn down).
    """
    code = cli.main()
    if cli.last_command() in ("", "gui"):
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code if isinstance(code, int) else 1)
