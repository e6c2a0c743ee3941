"""`python -m workbench` (and `torchrun -m workbench`) run the command-line entry point."""

from workbench.cli_entry import entry

entry()
