"""/asyncapi.json is the document of the channels the feed declares."""

import httpx

from tests.support.asyncapi import assert_serves_declared_document
from xabar.feed.config import FeedSettings
from xabar.feed.handlers import declare_channels


async def test_the_feed_serves_the_asyncapi_document_of_its_channels(
    client: httpx.AsyncClient, settings: FeedSettings
) -> None:
    await assert_serves_declared_document(client, "feed", declare_channels, settings)
