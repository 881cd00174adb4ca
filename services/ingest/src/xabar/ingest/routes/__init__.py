"""Ingest's HTTP routes: one module per resource, each a ``Router`` of named module-level
endpoints declared with their OpenAPI operation; errors mapped once (``errors``).

- ``submissions``: the submissions API (JSON), tips in and receipt look-ups;
- ``attachments``: stored photos, for editors (bearer token);
- ``report``: the reporters' form (Russian HTML);
- ``status``: receipt look-ups for people (Russian HTML);
- ``comments``: readers' comments (the form the feed frames, its post, the API);
- ``letters``: letters to the editors, "Напишите нам" (the form, its post, the API);
- ``ops``: health, readiness, metrics and this document (served by the runtime).

Endpoints get their collaborators from ``Deps.of(request)`` (``xabar.ingest.deps``).
"""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from xabar.ingest.deps import Deps
from xabar.ingest.routes import attachments, comments, letters, ops, report, status, submissions
from xabar.ingest.routes.errors import exception_handlers
from xabar.runtime.auth import Role
from xabar.runtime.openapi import OpenAPI
from xabar.runtime.routing import Endpoint, Operation

ROUTERS = (
    submissions.router,
    attachments.router,
    report.router,
    status.router,
    comments.router,
    letters.router,
)


def guard(op: Operation, endpoint: Endpoint) -> Endpoint:
    """Secured operations need an editor's bearer token of at least ``op.security``."""
    minimum = op.security
    assert isinstance(minimum, Role)

    async def authenticated(request: Request) -> Response:
        Deps.of(request).codec.authenticate(request, minimum)
        return await endpoint(request)

    authenticated.__name__ = endpoint.__name__
    return authenticated


def routes() -> list[BaseRoute]:
    return [route for router in ROUTERS for route in router.routes(guard)]


def document(api: OpenAPI) -> None:
    ops.declare(api)
    api.include(*ROUTERS)


__all__ = ["document", "exception_handlers", "routes"]
