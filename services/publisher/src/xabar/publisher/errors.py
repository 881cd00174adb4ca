"""The publisher service's exception hierarchy; ``routes.errors`` maps each class to HTTP once.

::

    PublisherError                  400 bad_request (what no subclass says more precisely)
    ├── NotFound                    404 not_found: no such article, tip, editor, media, version
    ├── InvalidInput                422 invalid: well-formed, but its content cannot be used
    │   └── ImportFailed            422 invalid: an import file or line
    ├── NotAllowed                  403 forbidden: the role or ownership does not allow it
    ├── VersionConflict             409 version_conflict (ETag: the current version)
    ├── PreconditionRequired        428 precondition_required: a write without If-Match
    ├── InvalidTransition           409 invalid_transition: not from the item's status
    ├── InvalidCredentials          401 invalid_credentials
    ├── TooManyAttempts             429 too_many_attempts (Retry-After)
    ├── EditorExists                409 editor_exists
    ├── BadMedia                    422 bad_media
    ├── MediaTooLarge               413 media_too_large
    ├── UpstreamUnavailable         502 upstream_unavailable: ingest did not answer as expected
    └── StorageUnavailable          503 storage_unavailable (Retry-After)

Besides these, the routes map the runtime's ``AuthError`` (401), ``ForbiddenError`` (403) and
``LockBusy`` (503), and the storage drivers' ``PyMongoError`` and ``RedisError`` (503 with
``Retry-After``; the driver's text is logged, never shown). Messages are in Russian: people read
them in the newsroom.
"""

from xabar.runtime.errors import ServiceError


class PublisherError(ServiceError):
    """Base of every error the publisher service raises on purpose."""


class NotFound(PublisherError):
    """The article, tip, editor, media item or revision does not exist."""


class InvalidInput(PublisherError):
    """The request is well-formed but its content cannot be used (e.g. an unknown country)."""


class ImportFailed(InvalidInput):
    """An import file or one of its lines cannot be imported."""


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
    """Login attempts over a limit (of this account, e-mail and address, or address)."""

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
