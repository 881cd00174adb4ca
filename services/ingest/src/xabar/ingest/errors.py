"""The ingest service's exception hierarchy. Routes map these to HTTP statuses."""

from typing import Any


class IngestError(Exception):
    """Base of every error the ingest service raises on purpose."""

    code = "ingest_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
