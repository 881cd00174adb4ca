"""The publisher service's exception hierarchy. Routes map these to HTTP statuses."""


class PublisherError(Exception):
    """Base of every error the publisher service raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(PublisherError):
    """The article, tip, editor, media item or revision does not exist."""


class InvalidInput(PublisherError):
    """The request is well-formed but its content cannot be used (e.g. an unknown country)."""


class NotAllowed(PublisherError):
    """The editor's role or ownership does not allow this action on this item."""


class VersionConflict(PublisherError):
    """The item changed since the version the client read (stale ``If-Match``)."""

    def __init__(self, message: str, current_version: int) -> None:
        super().__init__(message)
        self.current_version = current_version


class PreconditionRequired(PublisherError):
    """A write that needs ``If-Match`` came without it."""


class InvalidTransition(PublisherError):
    """The workflow does not allow this action in the item's current status."""


class InvalidCredentials(PublisherError):
    """Unknown e-mail, wrong password or a disabled account (never says which)."""


class TooManyAttempts(PublisherError):
    """Login attempts over the limit for this e-mail and address."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class EditorExists(PublisherError):
    """An editor with this e-mail exists already."""


class BadMedia(PublisherError):
    """The bytes are not an image we accept (JPEG, PNG, WebP) or cannot be read."""


class MediaTooLarge(PublisherError):
    """The image is over the byte or pixel limit."""


class UpstreamUnavailable(PublisherError):
    """Another service we need (ingest, for a tip's photos) did not answer as expected."""


class StorageUnavailable(PublisherError):
    """MongoDB or Redis did not answer; nothing was changed that the caller could not retry."""


class ImportFailed(PublisherError):
    """An import file or one of its lines cannot be imported."""
