"""`python -m workbench` (and `torchrun -m workbench`) run the command-line entry point."""

import sys

from workbench.cli import main

sys.exit(main())
