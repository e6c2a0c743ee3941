"""The Qt-free engine of Workbench: everything the GUI does, usable from scripts and the CLI."""
