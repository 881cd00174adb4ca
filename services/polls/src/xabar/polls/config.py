"""Settings of the polls service, read from ``XABAR_POLLS_*`` environment variables.

Inherited from ``ServiceSettings`` (see xabar.runtime.config):

- ``XABAR_POLLS_HOST`` (127.0.0.1), ``XABAR_POLLS_PORT`` (8083)
- ``XABAR_POLLS_REDIS_URL`` (redis://127.0.0.1:6379/0): counters, voter sets, the vote-log
  stream, and the event bus (``xabar.polls``).
- ``XABAR_POLLS_MONGODB_URL`` (mongodb://127.0.0.1:27017/), ``XABAR_POLLS_MONGODB_DB``
  (xabar_polls): polls (with their outbox) and the durable vote log.
- ``XABAR_POLLS_CONSUMER_NAME`` (host name): stable consumer name in the vote-log group.
- ``XABAR_POLLS_LOG_LEVEL`` (INFO), ``XABAR_POLLS_LOG_JSON`` (true)
- ``XABAR_POLLS_STREAM_MAXLEN`` (1000000), ``XABAR_POLLS_CLAIM_IDLE_MS`` (30000): also the idle
  time after which another replica's unpersisted vote-log entries are claimed,
  ``XABAR_POLLS_MAX_DELIVERIES`` (5)
- ``XABAR_POLLS_TOKEN_PUBLIC_KEY`` (required): the publisher's public key, which editors' tokens
  are verified with (see ``xabar.runtime.auth``).

Polls' own settings:

- ``XABAR_POLLS_COOKIE_SECRET`` (required, >= 32 chars, placeholders refused): HMAC key that
  signs the voter cookie.
- ``XABAR_POLLS_ADDRESS_SALT`` (required, >= 32 chars, placeholders refused): the polls' own key
  of the hashes that stand for client addresses and subnets; raw addresses are never stored. The
  hashes are keyed with a key derived from it for the polls alone, so they never equal another
  service's hashes of the same address, even where the same value was configured for both.
- ``XABAR_POLLS_TRUSTED_PROXIES`` (empty): comma-separated networks (``10.0.0.0/8,127.0.0.1``)
  whose ``X-Forwarded-For`` is believed; from any other peer the header is ignored.
- ``XABAR_POLLS_SITE_URL`` (http://127.0.0.1:8080): the feed; a form vote's ``return_to`` is
  followed only when it points under this URL.
- ``XABAR_POLLS_PUBLIC_URL`` (empty): absolute base of this service for links in pages; empty
  means relative links.
- ``XABAR_POLLS_ALLOWED_ORIGINS`` (empty): comma-separated origins whose pages may post a vote
  (``https://news.example,https://polls.news.example``); empty means the site
  (``SITE_URL``) and this service (``PUBLIC_URL``, else ``http://HOST:PORT``). A vote posted from
  another site's page (its ``Origin``, else ``Sec-Fetch-Site`` and ``Referer``) is refused 403:
  nothing is counted and the voter cookie is left as it was.
- ``XABAR_POLLS_COOKIE_NAME`` (xabar_voter), ``XABAR_POLLS_COOKIE_SECURE`` (false),
  ``XABAR_POLLS_COOKIE_MAX_AGE_S`` (31536000): the voter cookie.
- ``XABAR_POLLS_VOTE_RATE_LIMIT`` (120) per ``XABAR_POLLS_VOTE_RATE_WINDOW_S`` (60): vote
  requests (counted or not) per address hash, all polls together, answered 429 past it: a flood
  guard in front of the counting script. Never below ``ADDRESS_LIMIT``: an address allowed N
  counted votes is allowed at least N requests.
- ``XABAR_POLLS_ADDRESS_LIMIT`` (10) per ``XABAR_POLLS_ADDRESS_WINDOW_S`` (3600): counted
  votes per address hash on one poll (checked inside the counting script; 429 past it).
- ``XABAR_POLLS_ADDRESS_COOLDOWN_S`` (2): minimum time between two counted votes of one address
  hash on one poll (429 within it); 0 turns it off.
- ``XABAR_POLLS_BURST_WINDOW_S`` (60), ``XABAR_POLLS_BURST_ADDRESS_THRESHOLD`` (5),
  ``XABAR_POLLS_BURST_SUBNET_THRESHOLD`` (30): more counted votes than the threshold from one
  address hash / one subnet (/24, /64) on one poll within the window are flagged as an anomaly.
- ``XABAR_POLLS_REDIS_PREFIX`` (polls): prefix of every Redis key of this service.
- ``XABAR_POLLS_REDIS_MAX_CONNECTIONS`` (64): size of the Redis connection pool.
- ``XABAR_POLLS_TALLY_INTERVAL_S`` (1.0): how often dirty polls get a ``poll.tallied`` snapshot.
- ``XABAR_POLLS_SCHEDULER_INTERVAL_S`` (1.0): how often due polls are opened or closed.
- ``XABAR_POLLS_RESYNC_INTERVAL_S`` (60.0): how often the Redis mirror of every poll is checked
  against MongoDB (and lost counters rebuilt from the vote log).
- ``XABAR_POLLS_VOTELOG_BATCH`` (1000) vote-log entries written to MongoDB (one round trip)
  every ``XABAR_POLLS_VOTELOG_INTERVAL_S`` (0.5) seconds while votes come in: 2,000 votes a
  second; batch after batch without a pause once none came in since the writer's last look.
- ``XABAR_POLLS_VOTELOG_YIELD_ABOVE`` (200; 0: never): while votes come in faster than this
  many a second, the writer writes nothing: the burst waits in the Redis stream (durable;
  recounts and rebuilds read it there too) and is written after it, unless the stream holds
  ``XABAR_POLLS_VOTELOG_MAX_BACKLOG`` (100000) entries or its oldest is
  ``XABAR_POLLS_VOTELOG_MAX_LAG_S`` (60) seconds older than its newest: then it writes at its
  pace under any load (``votelog.py``).
- ``XABAR_POLLS_OUTBOX_SWEEP_S`` (5.0): how often the outbox relay sweeps pending events.
- ``XABAR_POLLS_DISPLAY_TIMEZONE`` (Asia/Almaty): time zone of dates on the HTML pages.
- ``XABAR_POLLS_PAGE_SIZE_MAX`` (100): largest ``per_page`` of the poll list.
- ``XABAR_POLLS_PAGES_REFRESH_MS`` (100): how often the public reader pages (``/polls``,
  ``/polls/ID`` without a voter cookie, answered from memory) are checked against the counters
  and rendered again when what they show changed: at most this far behind a vote.
"""

import zoneinfo
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from xabar.runtime.clients import Network, parse_networks
from xabar.runtime.config import CommaSeparated, ServiceSettings, require_secret


class PollsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="XABAR_POLLS_", extra="ignore", frozen=True)

    VERIFIES_TOKENS = True
    port: int = 8083
    mongodb_db: str = "xabar_polls"

    cookie_secret: SecretStr
    address_salt: SecretStr
    trusted_proxies: CommaSeparated = ()
    site_url: str = "http://127.0.0.1:8080"
    public_url: str = ""
    allowed_origins: CommaSeparated = ()
    cookie_name: str = Field(default="xabar_voter", pattern=r"^[A-Za-z0-9_\-]+$")
    cookie_secure: bool = False
    cookie_max_age_s: int = Field(default=365 * 24 * 3600, ge=60)

    vote_rate_limit: int = Field(default=120, ge=1)
    vote_rate_window_s: int = Field(default=60, ge=1)
    address_limit: int = Field(default=10, ge=1)
    address_window_s: int = Field(default=3600, ge=1)
    address_cooldown_s: float = Field(default=2.0, ge=0)
    burst_window_s: int = Field(default=60, ge=1)
    burst_address_threshold: int = Field(default=5, ge=1)
    burst_subnet_threshold: int = Field(default=30, ge=1)

    redis_prefix: str = Field(default="polls", pattern=r"^[A-Za-z0-9_.\-]+$")
    redis_max_connections: int = Field(default=64, ge=2)
    tally_interval_s: float = Field(default=1.0, gt=0)
    scheduler_interval_s: float = Field(default=1.0, gt=0)
    resync_interval_s: float = Field(default=60.0, gt=0)
    votelog_batch: int = Field(default=1000, ge=1, le=5000)
    votelog_interval_s: float = Field(default=0.5, ge=0)
    # the writer steps aside while votes come in faster than this (a second; 0: never), until
    # the stream holds votelog_max_backlog entries or spans votelog_max_lag_s (votelog.py)
    votelog_yield_above: int = Field(default=200, ge=0)
    votelog_max_backlog: int = Field(default=100_000, ge=1)
    votelog_max_lag_s: float = Field(default=60.0, gt=0)
    outbox_sweep_s: float = Field(default=5.0, gt=0)
    display_timezone: str = "Asia/Almaty"
    page_size_max: int = Field(default=100, ge=1)
    pages_refresh_ms: int = Field(default=100, ge=10, le=10_000)

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        try:
            parse_networks(value)
        except ValueError as exc:
            raise ValueError(f"trusted_proxies: {exc}") from exc
        return value

    @field_validator("site_url", "public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("display_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Self:
        require_secret("cookie_secret", self.cookie_secret)
        require_secret("address_salt", self.address_salt)
        return self

    def proxy_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    def vote_origins(self) -> tuple[str, ...]:
        """The origins whose pages may post a vote (see ``ALLOWED_ORIGINS``)."""
        if self.allowed_origins:
            return self.allowed_origins
        own = self.public_url or f"http://{self.host}:{self.port}"
        return tuple(o for o in (self.site_url, own) if o)
