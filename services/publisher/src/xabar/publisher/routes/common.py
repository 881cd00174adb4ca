"""What the publisher's resource modules share: their router (the runtime's, which also
documents the role an operation needs and what the request helpers may answer), the guard that
checks the token first, and ETags."""

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.domain import ROLE_LABELS
from xabar.publisher.errors import NotAllowed
from xabar.publisher.routes.deps import Deps
from xabar.publisher.routes.params import Filter, filter_parameters
from xabar.runtime.auth import ForbiddenError, Role
from xabar.runtime.openapi import ErrorBody
from xabar.runtime.routing import E, Endpoint, Operation, Router


def helper_responses(
    body: type[BaseModel] | None, parameters: Iterable[dict[str, Any]]
) -> dict[int, type[BaseModel]]:
    """What the request helpers answer before an endpoint decides anything: a body can be
    malformed (400), too large (413), of another media type (415) or invalid (422); an If-Match
    that is not an ETag is 400; a query parameter out of its range or choices is 422."""
    out: dict[int, type[BaseModel]] = {}
    if body is not None:
        out |= dict.fromkeys((400, 413, 415, 422), ErrorBody)
    for param in parameters:
        if param["name"] == "If-Match":
            out[400] = ErrorBody
        if param["in"] == "query":
            out[422] = ErrorBody
    return out


@dataclass
class PublisherRouter(Router):
    """The runtime's ``Router``; ``security`` is the minimum ``Role``, named in the summary. A
    router given a ``security`` of its own (the role its whole resource needs) applies it to each
    operation that does not name one."""

    security: Role | None = None

    def route(self, method: str, path: str, summary: str, **kw: Any) -> Callable[[E], E]:
        params = tuple(kw.pop("parameters", ()))
        security = kw.setdefault("security", self.security)
        if security is not None:
            if not isinstance(security, Role):
                raise TypeError(f"{path}: security is the minimum Role")
            summary = f"{summary} (role: {security.value}+)"
        kw["responses"] = {**helper_responses(kw.get("body"), params), **kw["responses"]}
        return super().route(method, path, summary, parameters=params, **kw)

    def listing(
        self, path: str, summary: str, model: type[BaseModel], filters: Iterable[Filter]
    ) -> Callable[[E], E]:
        """A list's GET: its ``filters`` and the page are its query parameters (422 for one out
        of its range or choices); it answers a page of ``model``."""
        return self.get(
            path, summary, parameters=filter_parameters(filters), responses={200: model}
        )


def guard(op: Operation, endpoint: Endpoint) -> Endpoint:
    """The bearer token is checked first, before the body or the item is read: a missing,
    malformed, expired, forged or revoked token is 401 (``AuthError``), a role below the
    operation's minimum 403."""
    minimum: Role = op.security

    @functools.wraps(endpoint)
    async def checked(request: Request) -> Response:
        try:
            codec = Deps.of(request).codec
            request.state.principal = await codec.authenticate_live(request, minimum)
        except ForbiddenError:
            raise NotAllowed(f"для этого нужна роль «{ROLE_LABELS[minimum]}» или выше") from None
        return await endpoint(request)

    return checked


def etag(version: int) -> str:
    return f'"{version}"'
