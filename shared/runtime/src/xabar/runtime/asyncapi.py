"""The AsyncAPI 3 document of the event channels, as FastStream generates it from a bus.

A service's document is its bus: the streams it appends to (typed publishers, their pydantic
event payloads), and the streams it reads in a consumer group (typed handlers). Each service
serves its own at ``GET /asyncapi.json`` (``asyncapi_routes``); the repository keeps the
combined one of every service in ``docs/asyncapi.yaml`` (``python -m xabar.devstack asyncapi``
writes it, and a test holds it to what the services generate).
"""

from collections.abc import Sequence
from typing import Any

from faststream.specification import AsyncAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from xabar.runtime.bus import EventBus
from xabar.runtime.openapi import OpenAPI
from xabar.runtime.routing import Router

SCHEMA_VERSION = "3.0.0"


def document(
    bus: EventBus, *, title: str, version: str = "1.0.0", description: str | None = None
) -> dict[str, Any]:
    """The AsyncAPI document of one service's bus, as JSON-ready data."""
    spec = AsyncAPI(
        bus.broker,
        title=title,
        version=version,
        description=description,
        schema_version=SCHEMA_VERSION,
    )
    return _in_order(spec.to_specification().to_jsonable())


def combined_document(
    buses: Sequence[EventBus],
    *,
    title: str = "Xabar events",
    version: str = "1.0.0",
    description: str | None = None,
) -> dict[str, Any]:
    """One document of several services' buses: every channel, each named with the service
    that appends to it or reads it (``EventBus(name=...)``)."""
    spec = AsyncAPI(
        *(bus.broker for bus in buses),
        title=title,
        version=version,
        description=description,
        schema_version=SCHEMA_VERSION,
    )
    return _in_order(spec.to_specification().to_jsonable())


def _in_order(doc: dict[str, Any]) -> dict[str, Any]:
    """Channels, operations and components by name: FastStream lists them in the order of a set
    (so the committed document does not change from one run to the next)."""
    for section in ("channels", "operations"):
        if section in doc:
            doc[section] = dict(sorted(doc[section].items()))
    for kind, items in doc.get("components", {}).items():
        doc["components"][kind] = dict(sorted(items.items()))
    return doc


def asyncapi_routes(bus: EventBus, api: OpenAPI) -> list[BaseRoute]:
    """``GET /asyncapi.json``: the document of the service's bus (titled as its OpenAPI
    document), generated on the first request, when the bus is complete; declared in ``api``.
    A composition root adds ``*asyncapi_routes(bus, api)`` to its routes."""
    router = Router(tags=["ops"])
    cached: list[dict[str, Any]] = []

    @router.get(
        "/asyncapi.json",
        "The AsyncAPI document of this service's events",
        responses={200: "application/json"},
    )
    async def asyncapi_json(_: Request) -> Response:
        if not cached:
            cached.append(document(bus, title=api.title, version=api.version))
        return JSONResponse(cached[0])

    api.include(router)
    return router.routes()
