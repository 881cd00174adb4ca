"""Settings every service shares. Each service subclasses ``ServiceSettings`` with its prefix."""

import socket
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from xabar.runtime.bus import BusOptions

PLACEHOLDERS = frozenset({"", "change-me", "changeme", "secret", "placeholder", "xxx", "todo"})


def require_secret(name: str, secret: SecretStr) -> None:
    """Refuse a missing, placeholder or short secret, naming the setting (at start, not later)."""
    value = secret.get_secret_value()
    if value.strip().lower() in PLACEHOLDERS or len(value) < 32:
        raise ValueError(
            f"{name} must be set to a real secret of at least 32 characters "
            "(placeholders are refused)"
        )


class ServiceSettings(BaseSettings):
    """Read from the environment with the service's prefix, e.g. ``XABAR_FEED_PORT``."""

    # hide_input_in_errors: a refused setting must not print the secrets beside it
    model_config = SettingsConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    redis_url: str = "redis://127.0.0.1:6379/0"
    mongodb_url: str = "mongodb://127.0.0.1:27017/"
    mongodb_db: str
    consumer_name: str = Field(default_factory=socket.gethostname, min_length=1)
    log_level: str = "INFO"
    log_json: bool = True
    stream_maxlen: int = Field(default=1_000_000, ge=1000)
    claim_idle_ms: int = Field(default=30_000, ge=10)
    max_deliveries: int = Field(default=5, ge=1)
    # The editors' token key, shared by publisher (signs) and the others (verify): HS256.
    jwt_secret: SecretStr

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Self:
        require_secret("jwt_secret", self.jwt_secret)
        return self

    def bus_options(self) -> BusOptions:
        return BusOptions(
            stream_maxlen=self.stream_maxlen,
            claim_idle_ms=self.claim_idle_ms,
            max_deliveries=self.max_deliveries,
        )
