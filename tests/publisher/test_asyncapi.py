"""/asyncapi.json is the document of the channels the publisher declares (public, as
/openapi.json is)."""

from tests.publisher.conftest import Harness
from tests.support.asyncapi import declared_document
from xabar.publisher.handlers import declare_channels


async def test_the_publisher_serves_the_asyncapi_document_of_its_channels(
    harness: Harness,
) -> None:
    h = harness
    served = await h.client.get("/asyncapi.json")
    assert served.status_code == 200
    assert served.json() == declared_document("publisher", declare_channels, h.settings)
