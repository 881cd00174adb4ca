"""What a service's ``/asyncapi.json`` must be: the document of the channels its handlers module
declares, on a bus made with the service's settings."""

from collections.abc import Callable
from typing import Any

import httpx

from xabar.runtime.asyncapi import document
from xabar.runtime.bus import EventBus
from xabar.runtime.config import ServiceSettings


def declared_document(
    name: str, declare: Callable[[EventBus], None], settings: ServiceSettings
) -> dict[str, Any]:
    bus = EventBus(
        settings.redis_url,
        consumer_name=settings.consumer_name,
        options=settings.bus_options(),
        name=name,
    )
    declare(bus)
    return document(bus, title=f"Xabar {name}")


async def assert_serves_declared_document(
    client: httpx.AsyncClient,
    name: str,
    declare: Callable[[EventBus], None],
    settings: ServiceSettings,
) -> None:
    """``client``'s service answers ``/asyncapi.json`` with ``declared_document``."""
    served = await client.get("/asyncapi.json")
    assert served.status_code == 200
    assert served.json() == declared_document(name, declare, settings)
