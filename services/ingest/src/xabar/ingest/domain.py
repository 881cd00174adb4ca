"""What a submission is, and the pure rules about it: validation, plain text, ids, receipt codes.

Everything here is free of I/O; the service module wires it to storage and the bus.
"""

import base64
import hashlib
import hmac
import html
import json
import os
import re
import secrets
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import nh3
import phonenumbers
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from xabar.contracts import COUNTRIES, SubmissionStatus
from xabar.ingest.errors import IdempotencyConflict, InvalidIdempotencyKey, InvalidSubmission
from xabar.runtime.http import field_errors

COUNTRY_CODES: tuple[str, ...] = (*COUNTRIES, "other")
CountryChoice = Literal["KZ", "KG", "UZ", "TJ", "TM", "CN", "other"]

TITLE_MIN, TITLE_MAX = 3, 200
TEXT_MIN, TEXT_MAX = 5, 20_000
LOCATION_MAX = 200
NAME_MAX = 100


# --- input ----------------------------------------------------------------------------------------


def plain_field(low: int, high: int) -> AfterValidator:
    """Markup removed (see ``plain_text``), then the length checked on what remains."""

    def check(value: str | None) -> str | None:
        if value is None:
            return None
        clean = plain_text(value)
        if len(clean) < low:
            raise ValueError(f"must contain at least {low} characters of text")
        if len(clean) > high:
            raise ValueError(f"must be at most {high} characters")
        return clean or None

    return AfterValidator(check)


class ContactIn(BaseModel):
    """How the editors may reach the reporter; every part optional."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, str_strip_whitespace=True)

    name: Annotated[str | None, Field(max_length=NAME_MAX * 2), plain_field(0, NAME_MAX)] = None
    email: EmailStr | None = Field(default=None, max_length=254)
    phone: str | None = Field(
        default=None, max_length=32, description="international (+...) or local to the country"
    )

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value:
            return None
        country = (info.context or {}).get("country")
        return normalize_phone(value, country if isinstance(country, str) else "other")


class NewSubmission(BaseModel):
    """A tip as a reporter sends it. Strict: a string field takes only a string (an operator
    object such as ``{"$ne": ""}`` is refused), and unknown fields are refused. Text fields are
    stored as plain text: markup is removed before the length is checked."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, str_strip_whitespace=True)

    title: Annotated[str, Field(max_length=TITLE_MAX * 2), plain_field(TITLE_MIN, TITLE_MAX)]
    text: Annotated[str, Field(max_length=TEXT_MAX * 2), plain_field(TEXT_MIN, TEXT_MAX)]
    country: CountryChoice
    location: Annotated[
        str | None, Field(max_length=LOCATION_MAX * 2), plain_field(0, LOCATION_MAX)
    ] = None
    contact: ContactIn | None = None
    consent: bool = Field(description="must be true: the reporter agrees to the terms")
    anonymous: bool = Field(default=False, description="if true, no contact is kept or passed on")

    @field_validator("consent")
    @classmethod
    def _consent(cls, value: bool) -> bool:
        if not value:
            raise ValueError("consent is required to send a tip")
        return value


def validate_submission(data: Any) -> NewSubmission:
    """``data`` as a clean ``NewSubmission``: markup removed, phone normalized, contact dropped
    when anonymous. Raises ``InvalidSubmission`` with one entry per bad field."""
    if not isinstance(data, dict):
        raise InvalidSubmission(
            "the body must be a JSON object",
            [{"field": "body", "message": "must be an object", "type": "dict_type"}],
        )
    country = data.get("country")
    try:
        draft = NewSubmission.model_validate(data, context={"country": country})
    except ValidationError as exc:
        raise InvalidSubmission("some fields are invalid", field_errors(exc)) from exc
    contact = draft.contact
    if draft.anonymous or (
        contact is not None and not (contact.name or contact.email or contact.phone)
    ):
        contact = None
    return draft.model_copy(update={"contact": contact})


def _err(field: str, message: str, kind: str) -> dict[str, Any]:
    return {"field": field, "message": message, "type": kind}


_DROP_CHARS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufeff]"
)


def plain_text(value: str) -> str:
    """``value`` as plain text with no markup left in it.

    Tags, comments, and the content of script and style elements are removed by nh3 (ammonia),
    entities decoded, and this repeated until nothing changes, so markup hidden behind entities
    (``&lt;script&gt;``) is removed too. The result passes through nh3 unchanged: no element,
    attribute or event handler an HTML parser would see survives. Control characters, bidi
    overrides and lone surrogates are dropped; line breaks are kept.
    """
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    text = _DROP_CHARS.sub("", text)
    if "<" not in text and "&" not in text:  # no tag and no entity: nh3 would change nothing
        return text.strip()
    for _ in range(8):
        cleaned = html.unescape(nh3.clean(text, tags=set()))
        cleaned = _DROP_CHARS.sub("", cleaned)
        if cleaned == text:
            break
        text = cleaned
    else:  # pathological nesting: give up on the angle brackets rather than loop on
        text = text.replace("<", "").replace(">", "")
    return text.strip()


def normalize_phone(raw: str, country: str) -> str:
    """A phone number in E.164 form. Local numbers are read in the submission's country."""
    region = country if country in COUNTRIES else None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number; write it with the country code, e.g. +7 …") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- ids, receipt codes, idempotency --------------------------------------------------------------

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_CHARS = 20  # 100 bits
_ID = re.compile(r"^[0-9a-f]{32}$")
_IDEM_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def new_id() -> str:
    return secrets.token_hex(16)


def is_id(value: str) -> bool:
    return bool(_ID.match(value))


def new_receipt_code() -> str:
    """A random receipt code a person can copy: ``XXXXX-XXXXX-XXXXX-XXXXX`` (100 bits)."""
    # one byte a character: 32 divides 256, so the low five bits are uniform
    raw = "".join(_CROCKFORD[b & 31] for b in os.urandom(_CODE_CHARS))
    return "-".join(raw[i : i + 5] for i in range(0, _CODE_CHARS, 5))


def is_receipt_code(code: str) -> bool:
    """Whether ``code`` can be a receipt code (20 of the code's letters, dashes and spaces
    aside): nothing else is looked up."""
    normalized = _normalize_code(code) if len(code) <= 64 else ""
    return len(normalized) == _CODE_CHARS and all(c in _CROCKFORD for c in normalized)


def _normalize_code(code: str) -> str:
    upper = code.upper().replace("-", "").replace(" ", "")
    return upper.translate(str.maketrans("OIL", "011"))


def hash_receipt_code(code: str) -> str:
    """What is stored of a receipt code. The code is 100 random bits, so a plain SHA-256 cannot
    be reversed by guessing; a slow password hash would add nothing."""
    return hashlib.sha256(_normalize_code(code).encode()).hexdigest()


def receipt_code_matches(code: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_receipt_code(code), stored_hash)


def check_idempotency_key(key: str) -> str:
    if not _IDEM_KEY.match(key):
        raise InvalidIdempotencyKey(
            "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good choice)"
        )
    return key


def _mac(secret: bytes, label: str, *parts: str) -> bytes:
    message = b"\0".join([label.encode(), *(p.encode() for p in parts)])
    return hmac.new(secret, message, hashlib.sha256).digest()


def idempotent_id(secret: bytes, key: str) -> str:
    """The submission id an ``Idempotency-Key`` stands for: every request with that key maps to
    one document ``_id``, so only one insert can win, even when requests race."""
    return _mac(secret, "submission-id", key).hex()[:32]


def fingerprint(draft: NewSubmission, photo_digests: Sequence[str]) -> str:
    """What makes two requests "the same" for an idempotent replay: fields and photo bytes."""
    body = json.dumps(draft.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256("\n".join([body, *photo_digests]).encode()).hexdigest()


def seal_code(secret: bytes, key: str, print_: str, code: str) -> str:
    """The receipt code encrypted under a key derived from the client's ``Idempotency-Key`` and
    the request itself: the database alone cannot reveal it, a retry of the same request can."""
    nonce = os.urandom(12)
    sealed = AESGCM(_mac(secret, "receipt-seal", key, print_)).encrypt(nonce, code.encode(), None)
    return base64.b64encode(nonce + sealed).decode()


def open_code(secret: bytes, key: str, print_: str, sealed: str) -> str:
    raw = base64.b64decode(sealed)
    try:
        code = AESGCM(_mac(secret, "receipt-seal", key, print_)).decrypt(raw[:12], raw[12:], None)
    except InvalidTag as exc:
        raise IdempotencyConflict(
            "this Idempotency-Key was already used for a different request"
        ) from exc
    return code.decode()


# --- output ---------------------------------------------------------------------------------------


class Receipt(BaseModel):
    """The answer to an accepted submission (HTTP 202): keep the code, it is shown only once."""

    submission_id: str
    receipt_code: str
    status: Literal["received"] = "received"
    status_url: str


class SubmissionStatusView(BaseModel):
    """Where a submission stands, as its reporter may see it."""

    submission_id: str
    status: SubmissionStatus
    received_at: datetime
    updated_at: datetime
    public_reason: str | None = None
    article_url: str | None = None


def status_url(submission_id: str) -> str:
    return f"/api/v1/submissions/{submission_id}"
