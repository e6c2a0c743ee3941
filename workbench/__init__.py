"""Workbench: train deep networks on your own images, and see whether the model really learned."""

__version__ = "0.1.0"
