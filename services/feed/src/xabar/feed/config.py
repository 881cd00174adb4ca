"""Settings of the feed service, read from ``XABAR_FEED_*`` environment variables.

Besides the shared ones (``XABAR_FEED_HOST``, ``_PORT``, ``_REDIS_URL``, ``_MONGODB_URL``,
``_MONGODB_DB``, ``_CONSUMER_NAME``, ``_LOG_LEVEL``, ``_LOG_JSON``, ``_STREAM_MAXLEN``,
``_CLAIM_IDLE_MS``, ``_MAX_DELIVERIES``; see ``xabar.runtime.config``; the feed takes no editors'
tokens and holds no key):

``XABAR_FEED_PORT`` (default ``8080``)
    Port of the readers' site.
``XABAR_FEED_TIMEZONE`` (default ``Asia/Almaty``)
    IANA time zone in which dates are shown ("Сегодня 07:58", "24 сентября 2013 16:37") and in
    which "today" and "yesterday" begin. Pages that show relative dates are re-rendered at the
    next local midnight.
``XABAR_FEED_SITE_URL`` (default ``http://127.0.0.1:8080``)
    Public base URL of this site, without a trailing slash: used in canonical links, Open Graph,
    JSON-LD, feeds, sitemaps and the ``return_to`` of poll votes.
``XABAR_FEED_SITE_NAME`` (default ``Xabar``)
    Name of the site in the header, titles and feeds.
``XABAR_FEED_SITE_DESCRIPTION``
    The line under the site name (defaults to the reference portal's description, rebranded).
``XABAR_FEED_POLLS_PUBLIC_URL`` (default ``http://127.0.0.1:8083``)
    Public base URL of the polls service: vote forms post to
    ``{polls_public_url}/api/v1/polls/{poll_id}/votes``.
``XABAR_FEED_INGEST_PUBLIC_URL`` (default ``http://127.0.0.1:8081``)
    Public base URL of the ingest service: "Народный репортер" links to
    ``{ingest_public_url}/report``, "Напишите нам" to ``{ingest_public_url}/letters``, and each
    article page frames its comment form, ``{ingest_public_url}/comments/form?article_id=ID``
    (the site's CSP names that origin in ``frame-src``).
``XABAR_FEED_PAGE_SIZE`` (default ``6``, as on the reference page)
    News items per HTML/JSON page (front page, news list, country sections).
``XABAR_FEED_FEED_ITEMS`` (default ``20``)
    Items per page of the RSS, Atom and JSON feeds.
``XABAR_FEED_POLLS_PAGE_SIZE`` (default ``20``)
    Polls per page of ``/polls``.
``XABAR_FEED_COMMENTS_PAGE_SIZE`` (default ``50``)
    Comments per page of an article (threads oldest first, replies under them); past that, a
    pager (``?comments=N``).
``XABAR_FEED_PAGE_CACHE_ENTRIES`` (default ``4096``)
    Rendered pages kept in each process (least recently rendered ones are dropped).
``XABAR_FEED_PAGE_CACHE_MB`` (default ``32``)
    The bytes those pages may hold in each process, with their gzip and brotli variants.
``XABAR_FEED_VOTE_WAIT_MS`` (default ``1500``)
    How long a page the polls service sends a reader back to after a vote
    (``?voted=...&tally=N``) waits for the read model to hold that poll's tally ``N`` (the one
    that includes the vote) before it is shown anyway, saying the results do not include it
    yet. The polls service sends a poll's tally one ``XABAR_POLLS_TALLY_INTERVAL_S`` (1 s) after
    the last, plus the time a tick takes: 1.5 s covers that with a margin.
``XABAR_FEED_VOTE_VARIANTS`` (default ``512``) and ``XABAR_FEED_VOTE_VARIANTS_MB`` (``8``)
    The pages after a vote each process keeps (one per page, poll and choice), apart from the
    page cache.
``XABAR_FEED_REVISION_POLL_MS`` (default ``100``)
    How often each process also reads the read model's revision, besides hearing it pushed
    (pub/sub): the bound on how long a replica may serve a page after a change whose push it
    missed (e.g. while its subscription reconnects).
``XABAR_FEED_WORKERS`` (default ``0``: as many as the machine has cores)
    Worker processes serving the site on one port (``SO_REUSEPORT``), each with its own page
    cache, all following the shared revision; ``1`` serves in the process itself. Worker N
    serves its metrics on ``XABAR_FEED_METRICS_PORT`` + 100 N. See ``xabar.feed.workers``.
``XABAR_FEED_PROJECTOR`` (default ``true``)
    Run the read-model projector (consumer group ``feed``) in worker 0 of this replica. Every
    replica may run it: the group shares the work; set it to false for render-only replicas.

The stream history the ``rebuild`` command replays is kept by ``XABAR_*_STREAM_MAXLEN`` of the
producers (default 1,000,000 entries per stream); see ``xabar.feed.rebuild``.
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from xabar.runtime.config import ServiceSettings

DEFAULT_DESCRIPTION = (
    "Центральноазиатский информационный портал «Xabar». Новости Центральной Азии: "
    "Казахстана, Кыргызстана, Узбекистана, Таджикистана, Туркменистана и Китая"
)


class FeedSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="XABAR_FEED_", extra="ignore", frozen=True)

    port: int = 8080
    mongodb_db: str = "xabar_feed"
    timezone: str = "Asia/Almaty"
    site_url: str = "http://127.0.0.1:8080"
    site_name: str = Field(default="Xabar", min_length=1, max_length=100)
    site_description: str = Field(default=DEFAULT_DESCRIPTION, max_length=500)
    polls_public_url: str = "http://127.0.0.1:8083"
    ingest_public_url: str = "http://127.0.0.1:8081"
    page_size: int = Field(default=6, ge=1, le=100)
    feed_items: int = Field(default=20, ge=1, le=500)
    polls_page_size: int = Field(default=20, ge=1, le=200)
    comments_page_size: int = Field(default=50, ge=1, le=500)
    page_cache_entries: int = Field(default=4096, ge=16)
    page_cache_mb: int = Field(default=32, ge=1, le=4096)
    revision_poll_ms: int = Field(default=100, ge=10)
    vote_wait_ms: int = Field(default=1500, ge=0, le=10_000)
    vote_variants: int = Field(default=512, ge=16)
    vote_variants_mb: int = Field(default=8, ge=1, le=1024)
    workers: int = Field(default=0, ge=0, le=64)
    projector: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("site_url", "polls_public_url", "ingest_public_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
