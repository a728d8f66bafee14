"""Why a document was refused, or could not be written."""


class VersionConflict(Exception):
    """The stored object changed since the version the editor started from; ``current`` is
    the object as it is now, or None if it was deleted."""

    def __init__(self, current):
        super().__init__(f"{current} was changed by someone else since it was read")
        self.current = current


class DocumentError(ValueError):
    """A document that cannot be read or does not pass the API's rules; str() says why."""
