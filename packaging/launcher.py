"""Entry script of the packaged application: the same `workbench` command as the installed one."""

import sys

from workbench.cli import main

if __name__ == "__main__":
    sys.exit(main())
