"""schemathesis against the feed's own /openapi.json: no 5xx, every status, content type and body
as the document says; over the reference front page (articles with images, a poll with its
tally), so that pages, sections, feeds and the article route answer with real content. The feed
has no secured operation: one run, without a token."""

import asyncio

import redis.asyncio as aioredis

from tests.feed import demo
from tests.feed.conftest import MakeSettings, publish_all, wait_drained
from tests.support import fuzz
from xabar.contracts import ARTICLES_STREAM, POLLS_STREAM
from xabar.feed.app import create_app
from xabar.runtime.bus import EventBus


async def test_api_fuzz(
    make_settings: MakeSettings, publisher: EventBus, redis: aioredis.Redis
) -> None:
    with fuzz.served(create_app(make_settings())) as url:
        await publish_all(publisher, demo.events())
        await wait_drained(redis, ARTICLES_STREAM, POLLS_STREAM)
        known = {"slug": [demo.SLUG, "archive-2013-0"]}
        await asyncio.to_thread(fuzz.run, url, known=known)
