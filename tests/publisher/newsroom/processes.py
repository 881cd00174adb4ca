"""The other services as real processes beside a publisher, for the newsroom's browser tests:
a feed (the readers' site) and an ingest (tips and comments), on the test's Redis and FerretDB."""

from pathlib import Path

from tests.conftest import TokenKeys
from tests.publisher.conftest import NEWSROOM_PUBLIC_KEY
from tests.support.infra import Infra
from tests.support.procs import ServiceProcess, service_process


def feed_process(
    redis_url: str, token_keys: TokenKeys, tmp_path: Path, consumer: str
) -> ServiceProcess:
    """A feed of one worker process (what these tests look at is its pages), its site URL its
    own."""
    feed = service_process(
        "xabar.feed",
        {
            "XABAR_FEED_REDIS_URL": redis_url,
            "XABAR_FEED_TOKEN_PUBLIC_KEY": token_keys.public,
            "XABAR_FEED_CONSUMER_NAME": consumer,
            "XABAR_FEED_WORKERS": "1",
            "XABAR_FEED_LOG_JSON": "false",
        },
        tmp_path,
        "XABAR_FEED_PORT",
    )
    feed.env["XABAR_FEED_SITE_URL"] = feed.url
    return feed


def ingest_process(
    infra: Infra,
    redis_url: str,
    mongo_db_name: str,
    token_keys: TokenKeys,
    tmp_path: Path,
    consumer: str,
    **env: str,
) -> ServiceProcess:
    """An ingest sealing contacts to the tests' newsroom key; ``env``: more of its settings
    (``XABAR_INGEST_`` left out)."""
    ingest = service_process(
        "xabar.ingest",
        {
            "XABAR_INGEST_REDIS_URL": redis_url,
            "XABAR_INGEST_MONGODB_URL": infra.mongo_url,
            "XABAR_INGEST_MONGODB_DB": mongo_db_name + "_ingest",
            "XABAR_INGEST_TOKEN_PUBLIC_KEY": token_keys.public,
            "XABAR_INGEST_NEWSROOM_PUBLIC_KEY": NEWSROOM_PUBLIC_KEY,
            "XABAR_INGEST_ADDRESS_SALT": "a" * 40,
            "XABAR_INGEST_CONSUMER_NAME": consumer,
            "XABAR_INGEST_LOG_JSON": "false",
            **{f"XABAR_INGEST_{k}": v for k, v in env.items()},
        },
        tmp_path,
        "XABAR_INGEST_PORT",
    )
    return ingest
