"""Architectures: a registry of timm models and a configurable small CNN."""
