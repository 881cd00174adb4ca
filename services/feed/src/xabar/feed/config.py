"""Settings of the feed service, read from ``XABAR_FEED_*`` environment variables."""

from pydantic_settings import SettingsConfigDict

from xabar.runtime.config import ServiceSettings


class FeedSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="XABAR_FEED_", extra="ignore", frozen=True)

    port: int = 8080
    mongodb_db: str = "xabar_feed"
