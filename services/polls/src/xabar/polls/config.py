"""Settings of the polls service, read from ``XABAR_POLLS_*`` environment variables."""

from pydantic_settings import SettingsConfigDict

from xabar.runtime.config import ServiceSettings


class PollsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="XABAR_POLLS_", extra="ignore", frozen=True)

    port: int = 8083
    mongodb_db: str = "xabar_polls"
