"""The error an image upload fails with."""


class ImageError(Exception):
    """An upload LXD refuses; the message is LXD's ``err`` text for the failed operation."""

    def __init__(self, message, metadata=None):
        super().__init__(message)
        # What the operation shows of the upload when LXD had got that far (fingerprint, size).
        self.metadata = metadata
