"""Settings of the ingest service, read from ``XABAR_INGEST_*`` environment variables.

Inherited from ``xabar.runtime.config.ServiceSettings`` (same prefix): ``HOST``, ``PORT``
(default 8081 here), ``REDIS_URL``, ``MONGODB_URL``, ``MONGODB_DB`` (default ``xabar_ingest``),
``CONSUMER_NAME``, ``LOG_LEVEL``, ``LOG_JSON``, ``STREAM_MAXLEN``, ``CLAIM_IDLE_MS``,
``MAX_DELIVERIES`` and ``TOKEN_PUBLIC_KEY`` (required: the publisher's public key, which editors'
tokens are verified with, to let them fetch photos; see ``xabar.runtime.auth``).

Added by ingest:

- ``XABAR_INGEST_ADDRESS_SALT`` (required secret, at least 32 characters, placeholders refused):
  ingest's own key (never the polls' or another service's): the keyed hashes client addresses are
  kept as are derived from it under labels of ingest's own (see ``addresses``: tips' hashes
  change every day, comments' are stable; all are truncated), so they cannot be joined with
  another service's hashes. Also keys, each under its own label, the signature of the form's
  token, the submission id derived from an ``Idempotency-Key`` and the sealing of a receipt code
  for an idempotent replay. Changing it unlinks old address hashes and invalidates forms that
  are open in browsers.
- ``XABAR_INGEST_NEWSROOM_PUBLIC_KEY`` (required): the newsroom's X25519 public key, base64 (32
  bytes). A reporter's contact is sealed to it the moment a tip is accepted (``sealing``); only
  the publisher, which holds the private key, can open it.
- ``XABAR_INGEST_CONTACT_RETENTION_DAYS`` (default 90): a tip's sealed contact is erased this many
  days after the tip is closed (rejected or published). ``XABAR_INGEST_ERASE_INTERVAL_S``
  (default 3600): how often the erasure runs.
- ``XABAR_INGEST_PUBLIC_URL`` (default ``http://127.0.0.1:8081``): ingest's own address as readers'
  browsers see it; a form post (and a post to the API from a browser) is refused with 403 unless
  its ``Origin`` (or, without one, ``Sec-Fetch-Site``/``Referer``) is this, the readers' site
  (``XABAR_INGEST_SITE_URL``, default ``http://127.0.0.1:8080``) or one of ``FORM_ORIGINS``
  (comma-separated). Clients that send none of those headers (programs) are not browsers and
  pass.
- ``XABAR_INGEST_TRUSTED_PROXIES`` (default empty): comma-separated CIDRs of our own reverse
  proxies. ``X-Forwarded-For`` is read only when the direct peer is one of them.
- ``XABAR_INGEST_SUBMIT_RATE_LIMIT`` (default 20) submissions per client per
  ``XABAR_INGEST_SUBMIT_RATE_WINDOW_S`` (default 600) seconds; over it: 429 with Retry-After.
- ``XABAR_INGEST_LOOKUP_RATE_LIMIT`` (default 30) receipt look-ups per client per
  ``XABAR_INGEST_LOOKUP_RATE_WINDOW_S`` (default 60) seconds (a receipt code alone finds its tip:
  100 random bits, and this bound on guessing).
- ``XABAR_INGEST_COMMENT_RATE_LIMIT`` (default 10) comments per client address per
  ``XABAR_INGEST_COMMENT_RATE_WINDOW_S`` (default 600) seconds, and
  ``XABAR_INGEST_LETTER_RATE_LIMIT`` (default 5) letters per ``XABAR_INGEST_LETTER_RATE_WINDOW_S``
  (default 3600); over either: 429 with Retry-After. A comment's or a letter's form is served
  framable only by the readers' site (``SITE_URL``: the feed embeds the comment form in each
  article page).
- ``XABAR_INGEST_MAX_JSON_BYTES`` (default 262144): the largest JSON body, and the largest text
  field of a form.
- ``XABAR_INGEST_MAX_PHOTOS`` (default 5), ``XABAR_INGEST_MAX_PHOTO_BYTES`` (default 10485760)
  and ``XABAR_INGEST_MAX_PHOTO_PIXELS`` (default 40000000, width times height, checked before
  decoding: decompression bombs are refused). A multipart body may be at most
  ``MAX_PHOTOS * MAX_PHOTO_BYTES + MAX_JSON_BYTES`` bytes.
- ``XABAR_INGEST_MAX_DECODE_BYTES`` (default 67108864, 64 MiB): the memory all photo decodes
  of the process may take together, estimated from each header before it is decoded (``photos``).
  A JPEG that would take more is decoded at 1/2, 1/4 or 1/8 of its size; a PNG or WebP is
  refused (413). At most ``XABAR_INGEST_DECODE_SLOTS`` (default 2) run at once.
- ``XABAR_INGEST_MAX_UPLOAD_BYTES`` (default 33554432, 32 MiB): what the bodies that may carry
  photos (multipart and form posts) may take together while they are read and handled, counted
  by their declared size before they are read (a body larger than this waits to be alone).
- ``XABAR_INGEST_MEMORY_WAIT_S`` (default 30): a request that waited this long for its turn
  (a body to read, a photo to decode) is refused with 503 and Retry-After: nothing was stored.
- ``XABAR_INGEST_FORM_MIN_FILL_S`` (default 3.0): a form sent sooner after it was served is refused
  (bots fill forms instantly). ``XABAR_INGEST_FORM_MAX_AGE_S`` (default 86400): older forms are
  served again with a fresh signature.
- ``XABAR_INGEST_IDEMPOTENCY_RETENTION_S`` (default 86400): how long an API ``Idempotency-Key``
  is remembered after its first request (its record in Redis; a form's key is kept
  ``FORM_MAX_AGE_S``, as long as its token is accepted). A replay within it is answered from
  Redis alone; a later one is looked up in MongoDB when MongoDB answers.
- ``XABAR_INGEST_STORAGE_TIMEOUT_S`` (default 4.0): the time MongoDB gets to store a submission
  (the same again for each photo) or to answer a look-up, before the client is told 503 and to
  send it again; with an ``Idempotency-Key`` a retry can never store it twice.
- ``XABAR_INGEST_RELAY_ENABLED`` (default true): move accepted submissions from the Redis intake
  to MongoDB and publish their events. False only for tests and maintenance: submissions are
  still accepted and wait in the intake (or, stored while Redis was down, in their outbox) until
  a process with it on runs.
- ``XABAR_INGEST_INTAKE_BATCH`` (default 50) accepted submissions moved from the Redis intake to
  MongoDB (and their events published) every ``XABAR_INGEST_INTAKE_INTERVAL_S`` (default 0.5)
  seconds at most: 100 a second. A burst above that is answered at once and waits, durable, in
  the intake (about 2 KB a tip); MongoDB and the publisher see a steady flow.
- ``XABAR_INGEST_RELAY_SWEEP_S`` (default 5.0): how often the relay looks for events a crash left
  unpublished in the outbox of a submission stored without Redis (it also runs at start and right
  after each such write).
"""

from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from xabar.ingest.sealing import public_key
from xabar.runtime.clients import Network, parse_networks
from xabar.runtime.config import ServiceSettings, require_secret
from xabar.runtime.security import origin_of


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="XABAR_INGEST_", extra="ignore", frozen=True)

    VERIFIES_TOKENS = True
    port: int = 8081
    mongodb_db: str = "xabar_ingest"

    address_salt: SecretStr
    newsroom_public_key: str
    public_url: str = "http://127.0.0.1:8081"
    site_url: str = "http://127.0.0.1:8080"
    trusted_proxies: str = ""
    contact_retention_days: float = Field(default=90, ge=0)
    erase_interval_s: float = Field(default=3600, gt=0)

    submit_rate_limit: int = Field(default=20, ge=1)
    submit_rate_window_s: int = Field(default=600, ge=1)
    lookup_rate_limit: int = Field(default=30, ge=1)
    lookup_rate_window_s: int = Field(default=60, ge=1)
    comment_rate_limit: int = Field(default=10, ge=1)
    comment_rate_window_s: int = Field(default=600, ge=1)
    letter_rate_limit: int = Field(default=5, ge=1)
    letter_rate_window_s: int = Field(default=3600, ge=1)

    max_json_bytes: int = Field(default=256 * 1024, ge=4096)
    max_photos: int = Field(default=5, ge=0, le=50)
    max_photo_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_photo_pixels: int = Field(default=40_000_000, ge=1)
    max_decode_bytes: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024)
    decode_slots: int = Field(default=2, ge=1, le=64)
    max_upload_bytes: int = Field(default=32 * 1024 * 1024, ge=1024 * 1024)
    memory_wait_s: float = Field(default=30.0, gt=0)

    form_min_fill_s: float = Field(default=3.0, ge=0)
    form_max_age_s: float = Field(default=86_400.0, gt=0)

    idempotency_retention_s: float = Field(default=86_400.0, ge=60)

    storage_timeout_s: float = Field(default=4.0, gt=0)

    relay_enabled: bool = True
    relay_sweep_s: float = Field(default=5.0, gt=0)
    intake_batch: int = Field(default=50, ge=1, le=5000)
    intake_interval_s: float = Field(default=0.5, ge=0)

    @model_validator(mode="after")
    def _check_ingest_settings(self) -> Self:
        require_secret("address_salt", self.address_salt)
        for name in ("public_url", "site_url"):
            if origin_of(getattr(self, name)) is None:
                raise ValueError(f"{name} must be an http(s) URL")
        try:
            public_key(self.newsroom_public_key)
        except ValueError as exc:
            raise ValueError(f"newsroom_public_key {exc}") from exc
        try:
            parse_networks(self.trusted_proxies.split(","))
        except ValueError as exc:
            raise ValueError(f"trusted_proxies must be comma-separated CIDRs: {exc}") from exc
        return self

    def trusted_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies.split(","))

    def our_origins(self) -> tuple[str, ...]:
        """The origins whose pages may post our forms."""
        return (self.public_url, self.site_url, *self.form_origins)

    def max_multipart_bytes(self) -> int:
        return self.max_photos * self.max_photo_bytes + self.max_json_bytes
