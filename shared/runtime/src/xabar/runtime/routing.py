"""One router per resource: endpoints are named, module-level functions declared with their
OpenAPI operation, and errors are mapped to HTTP once, in ``exception_handlers``.

A resource module (``routes/articles.py``)::

    router = Router(tags=["articles"])

    @router.get("/api/v1/articles/{article_id}", "One article",
                responses={200: ArticleOut, 404: ErrorBody}, security=Role.CONTRIBUTOR)
    async def get_article(request: Request) -> Response:
        deps = Deps.of(request)
        ...

The composition root collects the routers::

    routes = [*articles.router.routes(guard), *inbox.router.routes(guard)]
    api.include(articles.router, inbox.router)
    Starlette(routes=routes, exception_handlers=error_handlers(ERRORS))

``security`` is whatever the service's ``guard`` understands (a minimum role, say): ``routes``
calls ``guard(operation, endpoint)`` for each secured operation, so the check runs before the
endpoint reads anything, and the document marks the operation as needing a bearer token.

Errors: a service's exception hierarchy lives in its ``errors.py``; its routes package maps each
class to a status and a code once (``ErrorMap``), and ``error_handlers`` turns that mapping into
Starlette ``exception_handlers`` (Starlette picks the handler of the nearest class in the MRO).
"""

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from xabar.runtime.http import error_handlers as runtime_handlers
from xabar.runtime.http import error_response

Endpoint = Callable[[Request], Awaitable[Response]]
E = TypeVar("E", bound=Endpoint)
Responses = Mapping[int, type[BaseModel] | str | None]


@dataclass(frozen=True, slots=True)
class Operation:
    """One endpoint and what its OpenAPI operation says of it."""

    method: str
    path: str
    summary: str
    endpoint: Endpoint
    responses: Responses
    body: type[BaseModel] | None = None
    body_media: str = "application/json"
    parameters: tuple[dict[str, Any], ...] = ()
    tags: tuple[str, ...] = ()
    security: Any = None  # None: public; else what the service's guard checks (a role, say)
    include_in_schema: bool = True
    description: str = ""
    # other media types the same operation takes (an HTML form beside JSON, say), media -> model
    also_accepts: tuple[tuple[str, type[BaseModel]], ...] = ()
    error_pages: bool = False  # its 4xx answers may also be HTML pages (a form is answered so)

    @property
    def name(self) -> str:
        return self.endpoint.__name__

    @property
    def secured(self) -> bool:
        return self.security is not None


Guard = Callable[[Operation, Endpoint], Endpoint]


@dataclass
class Router:
    """The endpoints of one resource, in the order they were declared."""

    tags: Iterable[str] = ()
    prefix: str = ""
    operations: list[Operation] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        summary: str,
        *,
        responses: Responses,
        body: type[BaseModel] | None = None,
        body_media: str = "application/json",
        parameters: Iterable[dict[str, Any]] = (),
        security: Any = None,
        include_in_schema: bool = True,
        description: str = "",
        tags: Iterable[str] | None = None,
        also_accepts: Mapping[str, type[BaseModel]] | None = None,
        error_pages: bool = False,
    ) -> Callable[[E], E]:
        def register(endpoint: E) -> E:
            self.operations.append(
                Operation(
                    method=method.upper(),
                    path=self.prefix + path,
                    summary=summary,
                    endpoint=endpoint,
                    responses=dict(responses),
                    body=body,
                    body_media=body_media,
                    parameters=tuple(parameters),
                    tags=tuple(self.tags if tags is None else tags),
                    security=security,
                    include_in_schema=include_in_schema,
                    description=description,
                    also_accepts=tuple((also_accepts or {}).items()),
                    error_pages=error_pages,
                )
            )
            return endpoint

        return register

    def get(self, path: str, summary: str, **kw: Any) -> Callable[[E], E]:
        return self.route("GET", path, summary, **kw)

    def post(self, path: str, summary: str, **kw: Any) -> Callable[[E], E]:
        return self.route("POST", path, summary, **kw)

    def put(self, path: str, summary: str, **kw: Any) -> Callable[[E], E]:
        return self.route("PUT", path, summary, **kw)

    def patch(self, path: str, summary: str, **kw: Any) -> Callable[[E], E]:
        return self.route("PATCH", path, summary, **kw)

    def delete(self, path: str, summary: str, **kw: Any) -> Callable[[E], E]:
        return self.route("DELETE", path, summary, **kw)

    def routes(self, guard: Guard | None = None) -> list[BaseRoute]:
        """Starlette routes, each named after its endpoint; secured ones wrapped by ``guard``."""
        out: list[BaseRoute] = []
        for op in self.operations:
            endpoint = op.endpoint
            if op.secured:
                if guard is None:
                    raise ValueError(f"{op.name} is secured but no guard was given")
                endpoint = guard(op, endpoint)
            out.append(Route(op.path, endpoint, methods=[op.method], name=op.name))
        return out


@dataclass(frozen=True, slots=True)
class ErrorMap:
    """How one exception class of a service answers over HTTP."""

    status: int
    code: str
    headers: Callable[[Exception], Mapping[str, str]] | None = None


ErrorRenderer = Callable[[Request, Exception, ErrorMap], Awaitable[Response] | Response]


def error_handlers(
    mapping: Mapping[type[Exception], ErrorMap],
    render: ErrorRenderer | None = None,
    *,
    base: Mapping[Any, Any] | None = None,
) -> dict[Any, Any]:
    """Starlette ``exception_handlers`` for a service's error classes (plus ``base``, by default
    the runtime's own: bad requests, HTTP errors, and a 500 that never shows a traceback).

    ``render`` builds the response of a mapped error (default: the JSON error body with the
    exception's message); a service whose users are people passes one that answers pages for
    pages and JSON for the API."""

    async def default_render(_: Request, exc: Exception, spec: ErrorMap) -> Response:
        headers = dict(spec.headers(exc)) if spec.headers else None
        message = getattr(exc, "message", None) or str(exc) or spec.code.replace("_", " ")
        return error_response(spec.status, spec.code, message, headers=headers)

    chosen = render or default_render

    def handler_for(spec: ErrorMap) -> Callable[[Request, Exception], Awaitable[Response]]:
        async def handle(request: Request, exc: Exception) -> Response:
            out = chosen(request, exc, spec)
            return out if isinstance(out, Response) else await out

        return handle

    handlers: dict[Any, Any] = dict(runtime_handlers() if base is None else base)
    for cls, spec in mapping.items():
        handlers[cls] = handler_for(spec)
    return handlers


__all__ = ["Endpoint", "ErrorMap", "Guard", "Operation", "Router", "error_handlers"]
