"""A small service built from the runtime alone, run as a real process by the platform tests:
``python -m tests.support.tiny_service`` with ``XABAR_TINY_PORT`` (and the other settings).

Its endpoints echo what the runtime's body and parameter readers make of a request, so the tests
see the answers a real uvicorn server gives (streaming, header limits, the metrics listener).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pydantic_settings import SettingsConfigDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from xabar.runtime.app import serve, service_app, standard_routes
from xabar.runtime.bodies import Limits, read_form, read_json
from xabar.runtime.config import ServiceSettings
from xabar.runtime.http import error_handlers
from xabar.runtime.logs import configure_logging
from xabar.runtime.params import query_datetime, query_int

JSON_LIMIT = 64 * 1024
FORM_LIMITS = Limits(
    max_bytes=256 * 1024,
    max_fields=10,
    max_field_bytes=4096,
    max_files=2,
    max_file_bytes=100 * 1024,
    file_fields=frozenset({"photos"}),
)


class TinySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="XABAR_TINY_", frozen=True, extra="ignore")
    mongodb_db: str = "tiny"


async def echo_json(request: Request) -> Response:
    return JSONResponse({"json": await read_json(request, JSON_LIMIT)})


async def echo_form(request: Request) -> Response:
    form = await read_form(request, FORM_LIMITS)
    files = [[f.name, f.filename, f.size] for f in form.files]
    return JSONResponse({"fields": [list(kv) for kv in form.items], "files": files})


async def items(request: Request) -> Response:
    page = query_int(request, "page", default=1, low=1, high=1000)
    since = query_datetime(request, "from")
    return JSONResponse({"page": page, "from": since.isoformat() if since else None})


async def page(_: Request) -> Response:
    return HTMLResponse("<!doctype html><title>Страница</title><p>Привет</p>")


def create_app(settings: TinySettings) -> Starlette:
    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield

    return service_app(
        routes=[
            *standard_routes({}),
            Route("/json", echo_json, methods=["POST"]),
            Route("/form", echo_form, methods=["POST"]),
            Route("/items", items),
            Route("/page", page),
        ],
        lifespan=lifespan,
        exception_handlers=error_handlers(),
    )


def main() -> None:
    settings = TinySettings()  # port and secret from the environment
    configure_logging("tiny", settings.log_level, json=settings.log_json)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
