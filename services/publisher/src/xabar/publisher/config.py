"""Settings of the publisher service, read from ``XABAR_PUBLISHER_*`` environment variables."""

from pydantic_settings import SettingsConfigDict

from xabar.runtime.config import ServiceSettings


class PublisherSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="XABAR_PUBLISHER_", extra="ignore", frozen=True)

    port: int = 8082
    mongodb_db: str = "xabar_publisher"
