"""A fast lane for the hot path, made from the route itself.

``FastLane`` sits in front of Starlette's router and answers one operation of a ``Router``
straight away: it matches the request with the operation's own Starlette ``Route``, calls the
operation's endpoint (the very function the router serves), and answers an error with the app's
own exception handlers. It skips only the per-request layers between the middleware and the
endpoint (the exception middleware's wrappers, the walk through every route, the endpoint
wrapper); what the vote does, what it answers and how it fails is the route's code, so there is
nothing of the vote here to keep in step. Requests it does not match go on unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from xabar.runtime.metrics import MetricsMiddleware
from xabar.runtime.routing import Operation

Handler = Callable[[Request, Exception], Awaitable[Response]]


class FastLane:
    def __init__(self, app: ASGIApp, operation: Operation, handlers: Mapping[Any, Handler]) -> None:
        if operation.secured:  # the guard is the router's: a secured endpoint takes that way
            raise ValueError(f"{operation.name} is secured; it cannot take the fast lane")
        self.app = app
        self.endpoint = operation.endpoint
        self.route = Route(
            operation.path, operation.endpoint, methods=[operation.method], name=operation.name
        )
        self.handlers = {k: v for k, v in handlers.items() if isinstance(k, type)}
        self._answer = MetricsMiddleware(self._respond)  # counted as the router's requests are

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        match, child = self.route.matches(scope)
        if match is not Match.FULL:
            await self.app(scope, receive, send)
            return
        scope.update(child)  # path_params, endpoint; and the route, which metrics label by
        scope["route"] = self.route
        await self._answer(scope, receive, send)

    async def _respond(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.endpoint(request)
        except Exception as exc:
            handler = self._handler_of(exc)
            if handler is None:
                raise  # as Starlette: the server error middleware answers it
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler_of(self, exc: Exception) -> Handler | None:
        for cls in type(exc).__mro__:
            handler = self.handlers.get(cls)
            if handler is not None:
                return handler
        return None
