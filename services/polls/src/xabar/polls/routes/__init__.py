"""The HTTP routes of the polls service, one module per resource:

- ``polls``: ``/api/v1/polls`` (read by everyone; created, edited and closed by editors)
- ``votes``: ``POST /api/v1/polls/{poll_id}/votes`` (JSON or an HTML form; the hot path)
- ``anomalies``: ``/api/v1/anomalies`` (editors)
- ``pages``: the reader pages ``/polls`` and ``/polls/{poll_id}``

Endpoints are module-level functions that get their collaborators from ``Deps``; an operation
declares its OpenAPI next to it and the role it needs (``security``), checked by ``guard`` before
the endpoint runs. Errors are mapped to statuses once, in ``errors``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from xabar.polls.deps import Deps
from xabar.polls.routes import anomalies, pages, polls, votes
from xabar.runtime.auth import Role
from xabar.runtime.routing import Endpoint, Operation, Router

# the vote first: the router matches it before the others
ROUTERS: tuple[Router, ...] = (votes.router, polls.router, anomalies.router, pages.router)
HOT_PATH: Operation = votes.router.operations[0]


def guard(op: Operation, endpoint: Endpoint) -> Endpoint:
    """Checks the editor's bearer token for the role the operation names, before the endpoint
    reads anything; the endpoint finds the editor in ``request.state.principal``."""
    role = op.security
    assert isinstance(role, Role), f"{op.name}: security must be a Role"

    async def checked(request: Request) -> Response:
        request.state.principal = Deps.of(request).tokens.authenticate(request, role)
        return await endpoint(request)

    checked.__name__ = endpoint.__name__
    return checked


def routes() -> list[BaseRoute]:
    return [route for router in ROUTERS for route in router.routes(guard)]


__all__ = ["HOT_PATH", "ROUTERS", "guard", "routes"]
