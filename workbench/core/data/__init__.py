"""Datasets: discovery, image reading, splits, statistics, caching and augmentation."""
