"""Settings of the publisher service, read from ``XABAR_PUBLISHER_*`` environment variables.

Inherited from ``xabar.runtime.config.ServiceSettings`` (same prefix): ``HOST``, ``PORT``
(default 8082 here), ``REDIS_URL``, ``MONGODB_URL``, ``MONGODB_DB`` (default
``xabar_publisher``), ``CONSUMER_NAME``, ``LOG_LEVEL``, ``LOG_JSON``, ``STREAM_MAXLEN``,
``CLAIM_IDLE_MS``, ``MAX_DELIVERIES``.

Added by the publisher:

- ``XABAR_PUBLISHER_TOKEN_PRIVATE_KEY`` (required): the Ed25519 private key editors' tokens are
  signed with (base64 of its 32 bytes, or PEM; ``python -m xabar.runtime.auth keygen`` makes a
  pair). Only the publisher holds it; ingest and polls get the public key
  (``XABAR_<SERVICE>_TOKEN_PUBLIC_KEY``). The keyed hash of login addresses is derived from it.
- ``XABAR_PUBLISHER_NEWSROOM_PRIVATE_KEY`` (required secret): the newsroom's X25519 private key,
  base64 (32 bytes). Ingest seals each reporter's contact to its public key the moment a tip is
  accepted (``submission.received`` v2); the inbox opens the box with this key when it shows the
  tip to an editor, and keeps only the sealed box.

- ``XABAR_PUBLISHER_INGEST_URL`` (default ``http://127.0.0.1:8081``): where ingest serves the
  photos of tips (``GET {INGEST_URL}/api/v1/attachments/{id}``), fetched when a tip is accepted.
- ``XABAR_PUBLISHER_INGEST_TIMEOUT_S`` (default 15.0): timeout of one photo download from ingest.
- ``XABAR_PUBLISHER_SITE_URL`` (default ``http://127.0.0.1:8080``): the readers' site; an
  article's public address is ``{SITE_URL}/news/{slug}`` (sent to ingest when a tip's article is
  published).
- ``XABAR_PUBLISHER_FEED_URL`` (default empty: ``SITE_URL``): where the publisher reaches the
  readers' site for the newsroom's preview (``POST {FEED_URL}/api/v1/preview``); inside compose,
  the feed's own address rather than the public edge.
- ``XABAR_PUBLISHER_PUBLIC_URL`` (default ``http://127.0.0.1:8082``): the publisher's own public
  base URL as readers' browsers see it; media are served at ``{PUBLIC_URL}/media/{media_id}``.
- ``XABAR_PUBLISHER_TOKEN_TTL_S`` (default 1800): lifetime of an editor's login token (JWT).
- ``XABAR_PUBLISHER_TRUSTED_PROXIES`` (default empty): comma-separated CIDRs of our own reverse
  proxies; ``X-Forwarded-For`` is read only when the direct peer is one of them (login limits).
- ``XABAR_PUBLISHER_LOGIN_RATE_LIMIT`` (default 10) login attempts per e-mail and client address
  per ``XABAR_PUBLISHER_LOGIN_RATE_WINDOW_S`` (default 300) seconds,
  ``XABAR_PUBLISHER_LOGIN_ADDRESS_RATE_LIMIT`` (default 100) attempts per client address (any
  e-mail) and ``XABAR_PUBLISHER_LOGIN_ACCOUNT_RATE_LIMIT`` (default 30) attempts per account from
  all the addresses it did not log in from within ``XABAR_PUBLISHER_LOGIN_KNOWN_ADDRESS_DAYS``
  (default 30) days, in the same window; over any: 429 with ``Retry-After`` (see
  ``repositories.logins``).
- ``XABAR_PUBLISHER_PASSWORD_MEMORY_KIB`` (default 19456), ``XABAR_PUBLISHER_PASSWORD_TIME_COST``
  (default 2), ``XABAR_PUBLISHER_PASSWORD_PARALLELISM`` (default 1): argon2id's parameters for new
  hashes; ``XABAR_PUBLISHER_PASSWORD_HASH_CONCURRENCY`` (default 0: the number of CPUs): how
  many hashes or verifications run at once (each takes the memory above while it runs).
- ``XABAR_PUBLISHER_SCHEDULER_INTERVAL_S`` (default 1.0): how often due scheduled articles are
  published (also once at start, so an embargo that passed while the service was down is
  honoured on restart).
- ``XABAR_PUBLISHER_SCHEDULER_ENABLED`` (default true): run the scheduler in this process.
- ``XABAR_PUBLISHER_RELAY_ENABLED`` (default true): publish stored events. False only for tests
  and maintenance: changes are still stored with their events, which wait in the outbox.
- ``XABAR_PUBLISHER_RELAY_SWEEP_S`` (default 5.0): how often the relay looks for events a crash left
  unpublished (it also runs at start and right after each write).
- ``XABAR_PUBLISHER_LOCK_STALE_S`` (default 15.0): a document lock (``xabar.runtime.locks``)
  older than this was left by a crashed process and is taken over; a writer waits up to twice as
  long.
- ``XABAR_PUBLISHER_MAX_JSON_BYTES`` (default 2097152): the largest JSON request body.
- ``XABAR_PUBLISHER_MAX_MEDIA_BYTES`` (default 15728640): the largest image upload or copy.
- ``XABAR_PUBLISHER_MAX_MEDIA_PIXELS`` (default 50000000): width times height of an image, checked
  before decoding (decompression bombs are refused).
- ``XABAR_PUBLISHER_MEDIA_ENCODE_CONCURRENCY`` (default 2): how many images are decoded and
  re-encoded at once (uploads, tips' photos, imports); each holds a few times its pixels in
  memory while it runs, so memory stays within this times ``MAX_MEDIA_PIXELS`` times ~16 bytes.
- ``XABAR_PUBLISHER_MEDIA_UPLOAD_CONCURRENCY`` (default 3), ``XABAR_PUBLISHER_MEDIA_UPLOAD_WAIT_S``
  (default 30): how many uploads (the API's and the newsroom's) are read and prepared at once;
  the others wait that long with their bodies unread, then get 503 with ``Retry-After``.
- ``XABAR_PUBLISHER_NEWSROOM_PATH`` (default empty: the root): the base path of the newsroom, the
  editors' web app (``/newsroom`` behind the compose edge); every link, form action, redirect and
  the session cookie's ``Path`` start with it.
- ``XABAR_PUBLISHER_NEWSROOM_ORIGIN`` (default: the origin of ``PUBLIC_URL``): the origin editors'
  browsers open the newsroom on (``https://news.example``); its form posts are the only ones
  accepted (besides ``FORM_ORIGINS``), and an ``https`` origin makes the session cookie
  ``Secure`` (so does ``X-Forwarded-Proto: https`` from a trusted proxy). The newsroom's address
  is ``{NEWSROOM_ORIGIN}{NEWSROOM_PATH}/``.
- ``XABAR_PUBLISHER_NEWSROOM_TIMEZONE`` (default ``Asia/Almaty``): the time zone the newsroom
  shows times in (and reads the times editors type in).
- ``XABAR_PUBLISHER_SESSION_IDLE_S`` (default 3600): a newsroom session unused this long ends;
  ``XABAR_PUBLISHER_SESSION_ABSOLUTE_S`` (default 43200): any session ends this long after login.
- ``XABAR_PUBLISHER_POLLS_URL`` (default ``http://127.0.0.1:8083``): the polls API, which the
  newsroom calls server-side with the editor's own short token: its poll pages, and the vote
  anomalies of the dashboard.
- ``XABAR_PUBLISHER_RESET_LINK_TTL_S`` (default 86400): how long a one-time password link works.
- ``XABAR_PUBLISHER_SMTP_HOST`` (default empty: links go to the log instead), ``SMTP_PORT`` (587),
  ``SMTP_FROM`` (``newsroom@localhost``), ``SMTP_USER``, ``SMTP_PASSWORD``, ``SMTP_STARTTLS``
  (true): where password links are e-mailed from.
- ``XABAR_PUBLISHER_COMMENTS_MODERATION`` (default ``before``): readers' comments are moderated
  ``before`` they appear (they wait in the queue until a moderator approves them) or ``after``
  (published at once, and a moderator may remove them).
- ``XABAR_PUBLISHER_NEW_EDITOR_PASSWORD`` (CLI only, not a setting of the server): the password of
  ``create-editor`` when ``--password-stdin`` is not given.
"""

import base64
import binascii
import re
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nacl.public import PrivateKey
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from xabar.runtime.auth import MAX_TOKEN_TTL_S, private_key
from xabar.runtime.clients import Network, parse_networks
from xabar.runtime.config import ServiceSettings, require_secret
from xabar.runtime.security import origin_of

NEWSROOM_PATH = re.compile(r"(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*")


class PublisherSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="XABAR_PUBLISHER_", extra="ignore", frozen=True)

    port: int = 8082
    mongodb_db: str = "xabar_publisher"

    newsroom_private_key: SecretStr
    ingest_url: str = "http://127.0.0.1:8081"
    ingest_timeout_s: float = Field(default=15.0, gt=0)
    polls_url: str = "http://127.0.0.1:8083"
    site_url: str = "http://127.0.0.1:8080"
    feed_url: str = ""
    public_url: str = "http://127.0.0.1:8082"

    token_private_key: SecretStr
    token_ttl_s: int = Field(default=1800, ge=60, le=MAX_TOKEN_TTL_S)
    trusted_proxies: str = ""
    login_rate_limit: int = Field(default=10, ge=1)
    login_rate_window_s: int = Field(default=300, ge=1)
    login_address_rate_limit: int = Field(default=100, ge=1)
    login_account_rate_limit: int = Field(default=30, ge=1)
    login_known_address_days: int = Field(default=30, ge=1, le=365)

    password_memory_kib: int = Field(default=19_456, ge=8_192, le=262_144)
    password_time_cost: int = Field(default=2, ge=1, le=10)
    password_parallelism: int = Field(default=1, ge=1, le=8)
    password_hash_concurrency: int = Field(default=0, ge=0, le=64)

    scheduler_interval_s: float = Field(default=1.0, gt=0, le=60)
    scheduler_enabled: bool = True
    relay_enabled: bool = True
    relay_sweep_s: float = Field(default=5.0, gt=0)
    lock_stale_s: float = Field(default=15.0, ge=1)

    max_json_bytes: int = Field(default=2 * 1024 * 1024, ge=4096)
    max_media_bytes: int = Field(default=15 * 1024 * 1024, ge=1024)
    max_media_pixels: int = Field(default=50_000_000, ge=1)
    media_encode_concurrency: int = Field(default=2, ge=1, le=16)
    # uploads (bodies up to max_media_bytes) read and prepared at once; the others wait up to
    # media_upload_wait_s, then 503: the memory of concurrent uploads stays bounded
    media_upload_concurrency: int = Field(default=3, ge=1, le=32)
    media_upload_wait_s: float = Field(default=30.0, gt=0, le=600)

    newsroom_path: str = ""
    newsroom_origin: str = ""
    newsroom_timezone: str = "Asia/Almaty"
    session_idle_s: int = Field(default=3600, ge=60, le=7 * 86_400)
    session_absolute_s: int = Field(default=43_200, ge=300, le=30 * 86_400)
    reset_link_ttl_s: int = Field(default=86_400, ge=300, le=14 * 86_400)
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_from: str = "newsroom@localhost"
    smtp_user: str = ""
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True

    comments_moderation: Literal["before", "after"] = "before"

    @model_validator(mode="after")
    def _check_publisher_settings(self) -> Self:
        require_secret("newsroom_private_key", self.newsroom_private_key)
        self.newsroom_key()
        try:
            parse_networks(self.trusted_proxies.split(","))
        except ValueError as exc:
            raise ValueError(f"trusted_proxies must be comma-separated CIDRs: {exc}") from exc
        if self.feed_url and not self.feed_url.startswith(("http://", "https://")):
            raise ValueError(f"feed_url must be an http(s) URL, got {self.feed_url!r}")
        for name in ("ingest_url", "site_url", "public_url", "polls_url"):
            value = getattr(self, name)
            if not value.startswith(("http://", "https://")):
                raise ValueError(f"{name} must be an http(s) URL, got {value!r}")
        return self

    @model_validator(mode="after")
    def _check_token_private_key(self) -> Self:
        private_key(self.token_private_key.get_secret_value())
        return self

    @model_validator(mode="after")
    def _check_newsroom_settings(self) -> Self:
        if not NEWSROOM_PATH.fullmatch(self.newsroom_path):
            raise ValueError(
                f"newsroom_path must be empty or like /newsroom (no trailing slash), "
                f"got {self.newsroom_path!r}"
            )
        if self.newsroom_origin and origin_of(self.newsroom_origin) != self.newsroom_origin:
            raise ValueError(
                f"newsroom_origin must be an origin like https://news.example, "
                f"got {self.newsroom_origin!r}"
            )
        try:
            ZoneInfo(self.newsroom_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"newsroom_timezone is not a time zone: {exc}") from exc
        if self.session_absolute_s < self.session_idle_s:
            raise ValueError("session_absolute_s must not be shorter than session_idle_s")
        return self

    def newsroom_home(self) -> str:
        """Where editors open the newsroom: ``{origin}{path}/``."""
        origin = self.newsroom_origin or origin_of(self.public_url) or self.public_url
        return f"{origin}{self.newsroom_path}/"

    def newsroom_zone(self) -> ZoneInfo:
        return ZoneInfo(self.newsroom_timezone)

    def newsroom_key(self) -> PrivateKey:
        """The key that opens reporters' sealed contacts."""
        try:
            raw = base64.b64decode(self.newsroom_private_key.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ValueError("newsroom_private_key must be a 32-byte X25519 private key, base64")
        return PrivateKey(raw)

    def trusted_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies.split(","))

    def article_url(self, slug: str) -> str:
        return f"{self.site_url.rstrip('/')}/news/{slug}"

    def media_url(self, media_id: str) -> str:
        return f"{self.public_url.rstrip('/')}/media/{media_id}"
