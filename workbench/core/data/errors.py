"""Errors about datasets, worded for the person who made the folder."""


class DatasetError(ValueError):
    """A dataset that cannot be used as it is; the message names the path and says what to do.

    `skipped` holds the files that were found but could not be read, when the message refers to them.
    """

    def __init__(self, message: str, skipped: tuple = ()) -> None:
        super().__init__(message)
        self.skipped = tuple(skipped)
