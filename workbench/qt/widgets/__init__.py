"""Reusable Qt widgets: step list, generated forms, live curves, image grids, confusion heat map."""
