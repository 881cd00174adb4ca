"""Settings every service shares. Each service subclasses ``ServiceSettings`` with its prefix."""

import socket
from functools import cached_property
from typing import Annotated, Any, ClassVar, Self, TypeAlias

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from redis.asyncio import Redis

from xabar.runtime.auth import Revocations, TokenVerifier, public_key
from xabar.runtime.bus import STREAM_WINDOWS, BusOptions, EventBus
from xabar.runtime.deployment import RedisDeployment, parse_redis_url
from xabar.runtime.errors import ConfigError
from xabar.runtime.mongo import MongoClient, MongoDurability, mongo_client
from xabar.runtime.redispipe import RedisPipe
from xabar.runtime.replication import Replication

RedisClient: TypeAlias = Redis  # the client type, for those that hold one without calling it
PLACEHOLDERS = frozenset({"", "change-me", "changeme", "secret", "placeholder", "xxx", "todo"})
METRICS_PORT_OFFSET = 1000


def require_secret(name: str, secret: SecretStr) -> None:
    """Refuse a missing, placeholder or short secret, naming the setting (at start, not later)."""
    value = secret.get_secret_value()
    if value.strip().lower() in PLACEHOLDERS or len(value) < 32:
        raise ValueError(
            f"{name} must be set to a real secret of at least 32 characters "
            "(placeholders are refused)"
        )


def split_commas(value: object) -> object:
    """A comma-separated setting's items, stripped, the empty ones left out (a value that is no
    string, as given)."""
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return value


# a setting that lists strings: ``a, b`` in the environment (NoDecode: not read as JSON)
CommaSeparated: TypeAlias = Annotated[tuple[str, ...], NoDecode, BeforeValidator(split_commas)]


class ServiceSettings(BaseSettings):
    """Read from the environment with the service's prefix, e.g. ``XABAR_FEED_PORT``.

    ``metrics_port``: Prometheus metrics are served only on this listener, for operators
    (``metrics_host``, loopback by default); unset, it is ``port`` + 1000; 0 turns it off.
    ``form_origins``: comma-separated origins (``https://news.example``) whose pages may post
    forms to this service, besides the service's own public URL (see ``security.OriginCheck``).

    ``redis_url`` names the Redis deployment: ``redis://host:port/db`` (one node),
    ``redis+sentinel://host:port,host:port/mastername`` or ``redis+cluster://host:port,...``
    (see ``xabar.runtime.deployment``); ``redis`` is it, parsed once, and every Redis connection
    of the service is built from it (``redis_client``, ``redis_pipe``, the bus).
    ``redis_min_replicas``: how many replicas must confirm a durable write (a tip, a comment, a
    vote) before it is acknowledged (``WAIT``; 0 on one node, 1 in the HA profiles), within
    ``redis_wait_timeout_ms``, else the request is answered 503 (see ``runtime.replication``).
    ``mongodb_write_concern`` and ``mongodb_journal``: the write concern of the service's
    MongoDB client (``majority`` and journaled by default; see ``runtime.mongo``).
    """

    # hide_input_in_errors: a refused setting must not print the secrets beside it
    model_config = SettingsConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    form_origins: CommaSeparated = ()
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_min_replicas: int = Field(default=0, ge=0, le=16)
    redis_wait_timeout_ms: int = Field(default=1000, ge=10, le=60_000)
    mongodb_url: str = "mongodb://127.0.0.1:27017/"
    mongodb_write_concern: str = Field(default="majority", pattern=r"^(majority|[0-9]{1,2})$")
    mongodb_journal: bool = True
    mongodb_db: str
    consumer_name: str = Field(default_factory=socket.gethostname, min_length=1)
    log_level: str = "INFO"
    log_json: bool = True
    stream_maxlen: int = Field(default=1_000_000, ge=1000)
    # streams kept to a shorter window, e.g. XABAR_PUBLISHER_STREAM_WINDOWS='{"xabar.articles":
    # 100000}' (``xabar.runtime.bus.STREAM_WINDOWS``)
    stream_windows: dict[str, Annotated[int, Field(ge=1000)]] = Field(
        default_factory=lambda: dict(STREAM_WINDOWS)
    )
    claim_idle_ms: int = Field(default=30_000, ge=10)
    max_deliveries: int = Field(default=5, ge=1)
    # The publisher's public key (Ed25519, base64 or PEM) that editors' tokens are verified
    # with; required where ``VERIFIES_TOKENS`` (ingest, polls). The publisher signs with its
    # private key instead (``PublisherSettings.token_private_key``).
    token_public_key: str = ""
    VERIFIES_TOKENS: ClassVar[bool] = False

    @field_validator("redis_url")
    @classmethod
    def _names_a_deployment(cls, value: str) -> str:
        try:
            parse_redis_url(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _check_token_key(self) -> Self:
        if self.VERIFIES_TOKENS and not self.token_public_key.strip():
            raise ValueError(
                "token_public_key must be set: the publisher's public key "
                "(python -m xabar.runtime.auth keygen makes a pair)"
            )
        if self.token_public_key.strip():
            public_key(self.token_public_key)
        return self

    @model_validator(mode="after")
    def _metrics_port_in_range(self) -> Self:
        if self.metrics_port is None and self.port + METRICS_PORT_OFFSET > 65535:
            raise ValueError("metrics_port must be set when port + 1000 is past 65535")
        return self

    def metrics_address(self) -> tuple[str, int] | None:
        """Where operators read the metrics; None when turned off."""
        port = self.port + METRICS_PORT_OFFSET if self.metrics_port is None else self.metrics_port
        return None if port == 0 else (self.metrics_host, port)

    def token_verifier(self, redis: Redis) -> TokenVerifier:
        """Checks editors' tokens: the publisher's public key, the revocations in ``redis``."""
        return TokenVerifier(self.token_public_key, Revocations(redis))

    def bus_options(self) -> BusOptions:
        return BusOptions(
            stream_maxlen=self.stream_maxlen,
            stream_windows=self.stream_windows,
            claim_idle_ms=self.claim_idle_ms,
            max_deliveries=self.max_deliveries,
        )

    # --- the connections every service builds from its settings ----------------------------

    @cached_property
    def redis(self) -> RedisDeployment:
        """The Redis deployment ``redis_url`` names, parsed once."""
        return parse_redis_url(self.redis_url)

    def replication(self) -> Replication:
        return Replication(self.redis_min_replicas, self.redis_wait_timeout_ms)

    def redis_client(self, **options: Any) -> Redis:
        """A redis-py client on the deployment (``options``: ``max_connections``, ...)."""
        return self.redis.client(**options)

    def redis_pipe(self) -> RedisPipe:
        """The hot-path pipe on the deployment; its durable writes wait for the replicas."""
        return self.redis.pipe(replication=self.replication())

    def event_bus(self, name: str) -> EventBus:
        """The service's event bus on the deployment: its consumer is ``consumer_name``, its
        streams are bounded and claimed as the settings say; ``name`` titles its AsyncAPI."""
        return EventBus(
            self.redis, consumer_name=self.consumer_name, options=self.bus_options(), name=name
        )

    def mongo_client(self) -> MongoClient:
        """The service's MongoDB client, with its write concern (``runtime.mongo``)."""
        return mongo_client(self.mongodb_url, self.mongo_durability())

    def mongo_durability(self) -> MongoDurability:
        w = self.mongodb_write_concern
        return MongoDurability(w=int(w) if w.isdigit() else w, journal=self.mongodb_journal)
