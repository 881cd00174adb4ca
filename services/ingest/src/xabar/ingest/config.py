"""Settings of the ingest service, read from ``XABAR_INGEST_*`` environment variables."""

from pydantic_settings import SettingsConfigDict

from xabar.runtime.config import ServiceSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="XABAR_INGEST_", extra="ignore", frozen=True)

    port: int = 8081
    mongodb_db: str = "xabar_ingest"
