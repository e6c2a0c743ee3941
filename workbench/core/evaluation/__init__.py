"""Metrics, the locked test set, and evaluation of finished runs."""
