"""Errors about datasets, worded for the person who made the folder."""


class DatasetError(ValueError):
    """A dataset that cannot be used as it is; the message names the path and says what to do."""
