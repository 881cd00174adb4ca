"""The ingest service's exception hierarchy. ``routes`` maps each class to an HTTP status once.

::

    IngestError
    ├── InvalidSubmission        fields that do not pass validation (``fields`` says which)
    ├── LimitExceeded            a body, a photo or the number of photos over a limit
    ├── UnsupportedMedia         a content type this endpoint does not read
    ├── MalformedBody            a body that cannot be parsed at all
    ├── IdempotencyConflict      an Idempotency-Key reused for another request
    ├── InvalidIdempotencyKey    an Idempotency-Key that is not one
    ├── NotFound                 no such submission or attachment, or a wrong receipt code
    ├── FormRejected             the form's anti-abuse checks failed
    ├── RateLimited              over a rate limit (``retry_after_s``)
    ├── StorageUnavailable       nothing was accepted or read: send it again
    ├── Overloaded               too much work in progress (photos to decode): send it again
    ├── AttachmentDamaged        a stored photo does not match its digest
    ├── DuplicateSubmission      (internal) an id stored already
    └── StoreDown                (internal) a store did not answer
        ├── DatabaseUnavailable  MongoDB
        └── IntakeUnavailable    Redis

The two ``StoreDown`` classes are raised by the repositories (the only modules that call MongoDB
or Redis) in place of the drivers' errors; the service decides what each means for the request.
"""

from typing import Any

from xabar.runtime.errors import ServiceError


class IngestError(ServiceError):
    """Base of every error the ingest service raises on purpose."""

    code = "ingest_error"


class InvalidSubmission(IngestError):
    """Fields that do not pass validation; ``fields`` says which and why."""

    code = "validation_failed"

    def __init__(self, message: str, fields: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.fields = fields


class LimitExceeded(IngestError):
    """A body, a photo or the number of photos is over a configured limit."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class UnsupportedMedia(IngestError):
    """The request's content type is not one this endpoint reads."""

    code = "unsupported_media_type"


class MalformedBody(IngestError):
    """A body that cannot be parsed at all (broken multipart, bad encoding)."""

    code = "malformed_body"


class IdempotencyConflict(IngestError):
    """An ``Idempotency-Key`` reused for a different request."""

    code = "idempotency_key_reused"


class InvalidIdempotencyKey(IngestError):
    code = "invalid_idempotency_key"


class NotFound(IngestError):
    """No such submission or attachment, or a wrong receipt code (indistinguishable on purpose)."""

    code = "not_found"


class FormRejected(IngestError):
    """The HTML form's anti-abuse checks failed: honeypot filled, sent too fast, bad signature."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class StorageUnavailable(IngestError):
    """MongoDB did not take the write; nothing was accepted, the client should retry."""

    code = "storage_unavailable"


class DuplicateSubmission(IngestError):
    """A submission with this id is stored already (an idempotent retry, possibly a racing one)."""

    code = "duplicate_submission"


class RateLimited(IngestError):
    """Too many requests of one kind from one address; ``retry_after_s`` says when to come back."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Overloaded(IngestError):
    """Too many photos are being decoded to take this one in time; nothing was stored."""

    code = "busy"


class AttachmentDamaged(IngestError):
    """The stored bytes of a photo do not match its digest, or chunks are missing."""

    code = "attachment_damaged"


class StoreDown(IngestError):
    """A store did not answer or refused the call (raised by the repositories)."""

    code = "storage_unavailable"


class DatabaseUnavailable(StoreDown):
    """MongoDB did not answer in time, or failed the call."""


class IntakeUnavailable(StoreDown):
    """Redis (the intake) could not be reached, or failed the call."""
