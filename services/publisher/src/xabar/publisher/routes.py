"""HTTP routes of the publisher service. Status codes are chosen here and only here."""

from starlette.routing import BaseRoute

from xabar.runtime.openapi import OpenAPI


def api_routes(api: OpenAPI) -> list[BaseRoute]:
    return []
