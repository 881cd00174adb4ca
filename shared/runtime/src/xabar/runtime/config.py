"""Settings every service shares. Each service subclasses ``ServiceSettings`` with its prefix."""

import socket
from typing import Annotated, ClassVar, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from redis.asyncio import Redis

from xabar.runtime.auth import Revocations, TokenVerifier, public_key
from xabar.runtime.bus import BusOptions

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


class ServiceSettings(BaseSettings):
    """Read from the environment with the service's prefix, e.g. ``XABAR_FEED_PORT``.

    ``metrics_port``: Prometheus metrics are served only on this listener, for operators
    (``metrics_host``, loopback by default); unset, it is ``port`` + 1000; 0 turns it off.
    ``form_origins``: comma-separated origins (``https://news.example``) whose pages may post
    forms to this service, besides the service's own public URL (see ``security.OriginCheck``).
    """

    # hide_input_in_errors: a refused setting must not print the secrets beside it
    model_config = SettingsConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    form_origins: Annotated[tuple[str, ...], NoDecode] = ()
    redis_url: str = "redis://127.0.0.1:6379/0"
    mongodb_url: str = "mongodb://127.0.0.1:27017/"
    mongodb_db: str
    consumer_name: str = Field(default_factory=socket.gethostname, min_length=1)
    log_level: str = "INFO"
    log_json: bool = True
    stream_maxlen: int = Field(default=1_000_000, ge=1000)
    claim_idle_ms: int = Field(default=30_000, ge=10)
    max_deliveries: int = Field(default=5, ge=1)
    # The publisher's public key (Ed25519, base64 or PEM) that editors' tokens are verified
    # with; required where ``VERIFIES_TOKENS`` (ingest, polls). The publisher signs with its
    # private key instead (``PublisherSettings.token_private_key``).
    token_public_key: str = ""
    VERIFIES_TOKENS: ClassVar[bool] = False

    @field_validator("form_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
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
            claim_idle_ms=self.claim_idle_ms,
            max_deliveries=self.max_deliveries,
        )
