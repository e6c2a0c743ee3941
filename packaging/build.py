"""Build the one-folder application with PyInstaller: `python packaging/build.py [--clean]`.

Needs `pip install pyinstaller`. Prints the folder's size and a start-up check of the built program.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clean", action="store_true", help="rebuild from scratch")
    args = parser.parse_args()
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--distpath", str(ROOT / "dist"),
               "--workpath", str(ROOT / "build"), str(ROOT / "packaging" / "workbench.spec")]
    if args.clean:
        command.insert(3, "--clean")
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    out = ROOT / "dist" / "workbench"
    program = out / ("workbench.exe" if os.name == "nt" else "workbench")
    print(f"built {out} in {time.perf_counter() - started:.0f} s; size {folder_size(out) / 2**20:.0f} MiB")
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    check = subprocess.run([str(program), "--self-test"], capture_output=True, text=True, env=env, timeout=600)
    print(check.stdout or check.stderr)
    return check.returncode


if __name__ == "__main__":
    sys.exit(main())
