"""Settings of the ingest service, read from ``XABAR_INGEST_*`` environment variables.

Inherited from ``xabar.runtime.config.ServiceSettings`` (same prefix): ``HOST``, ``PORT``
(default 8081 here), ``REDIS_URL``, ``MONGODB_URL``, ``MONGODB_DB`` (default ``xabar_ingest``),
``CONSUMER_NAME``, ``LOG_LEVEL``, ``LOG_JSON``, ``STREAM_MAXLEN``, ``CLAIM_IDLE_MS``,
``MAX_DELIVERIES`` and ``TOKEN_PUBLIC_KEY`` (required: the publisher's public key, which editors'
tokens are verified with, to let them fetch photos; see ``xabar.runtime.auth``).

Added by ingest:

- ``XABAR_INGEST_ADDRESS_SALT`` (required secret, at least 32 characters, placeholders refused):
  the key of the salted hashes client addresses are kept as. Also keys, each under its own label,
  the signature of the form's timestamp, the submission id derived from an ``Idempotency-Key`` and
  the sealing of a receipt code for an idempotent replay. Changing it unlinks old address hashes
  and invalidates forms that are open in browsers.
- ``XABAR_INGEST_TRUSTED_PROXIES`` (default empty): comma-separated CIDRs of our own reverse
  proxies. ``X-Forwarded-For`` is read only when the direct peer is one of them.
- ``XABAR_INGEST_SUBMIT_RATE_LIMIT`` (default 20) submissions per client per
  ``XABAR_INGEST_SUBMIT_RATE_WINDOW_S`` (default 600) seconds; over it: 429 with Retry-After.
- ``XABAR_INGEST_LOOKUP_RATE_LIMIT`` (default 120) receipt look-ups per client per
  ``XABAR_INGEST_LOOKUP_RATE_WINDOW_S`` (default 60) seconds.
- ``XABAR_INGEST_MAX_JSON_BYTES`` (default 262144): the largest JSON body, and the largest text
  field of a form.
- ``XABAR_INGEST_MAX_PHOTOS`` (default 5), ``XABAR_INGEST_MAX_PHOTO_BYTES`` (default 10485760)
  and ``XABAR_INGEST_MAX_PHOTO_PIXELS`` (default 40000000, width times height, checked before
  decoding: decompression bombs are refused). A multipart body may be at most
  ``MAX_PHOTOS * MAX_PHOTO_BYTES + MAX_JSON_BYTES`` bytes.
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

from xabar.runtime.clients import Network, parse_networks
from xabar.runtime.config import ServiceSettings, require_secret


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="XABAR_INGEST_", extra="ignore", frozen=True)

    VERIFIES_TOKENS = True
    port: int = 8081
    mongodb_db: str = "xabar_ingest"

    address_salt: SecretStr
    trusted_proxies: str = ""

    submit_rate_limit: int = Field(default=20, ge=1)
    submit_rate_window_s: int = Field(default=600, ge=1)
    lookup_rate_limit: int = Field(default=120, ge=1)
    lookup_rate_window_s: int = Field(default=60, ge=1)

    max_json_bytes: int = Field(default=256 * 1024, ge=4096)
    max_photos: int = Field(default=5, ge=0, le=50)
    max_photo_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_photo_pixels: int = Field(default=40_000_000, ge=1)

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
        try:
            parse_networks(self.trusted_proxies.split(","))
        except ValueError as exc:
            raise ValueError(f"trusted_proxies must be comma-separated CIDRs: {exc}") from exc
        return self

    def trusted_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies.split(","))

    def max_multipart_bytes(self) -> int:
        return self.max_photos * self.max_photo_bytes + self.max_json_bytes
