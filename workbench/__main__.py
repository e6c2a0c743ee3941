"""`python -m workbench` (and `torchrun -m workbench`) run the command-line entry point."""

from workbench.cli import entry

entry()
