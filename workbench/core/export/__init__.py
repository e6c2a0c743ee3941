"""Exporting trained runs: checkpoints with their settings, metrics tables and curve plots."""
