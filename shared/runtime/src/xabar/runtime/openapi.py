"""A small OpenAPI 3.1 builder: routes declare their pydantic models, the document follows.

Endpoints declare their operation where they are defined (``xabar.runtime.routing.Router``);
the app includes its routers::

    api = OpenAPI("Xabar ingest", "1.0.0")
    api.include(submissions.router, reports.router)
    Route("/openapi.json", api.endpoint)

Every operation also documents the answers any request can get before its endpoint runs:
431 (headers too large) and 503 (a store is not answering; send it again).
"""

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from xabar.runtime.routing import Router

REF = "#/components/schemas/{model}"
_CONVERTER = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*):[a-z]+}")
ALWAYS = (431, 503)  # answered by the server or the runtime before any endpoint decides


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    """Every error response: a code a program can branch on and a message a person can read."""

    error: ErrorDetail


class OpenAPI:
    def __init__(self, title: str, version: str, description: str = "") -> None:
        self.title, self.version, self.description = title, version, description
        self._ops: list[dict[str, Any]] = []
        self._models: set[type[BaseModel]] = {ErrorBody}
        self._cached: dict[str, Any] | None = None

    def operation(
        self,
        method: str,
        path: str,
        summary: str,
        *,
        body: type[BaseModel] | None = None,
        body_media: str = "application/json",
        responses: dict[int, type[BaseModel] | str | None],
        secured: bool = False,
        parameters: list[dict[str, Any]] | None = None,
        tags: list[str] | None = None,
        also_accepts: dict[str, type[BaseModel]] | None = None,
        error_pages: bool = False,
        role: str = "",
    ) -> None:
        """``also_accepts``: other media types of the body (media -> model); ``error_pages``:
        its 4xx answers may also come as ``text/html`` pages (an HTML form's are); ``role``: the
        least role a secured operation needs (``x-required-role`` and its description)."""
        self._cached = None
        for model in [body, *responses.values(), *(also_accepts or {}).values()]:
            if isinstance(model, type) and issubclass(model, BaseModel):
                self._models.add(model)
        self._ops.append(
            {
                "method": method.lower(),
                "path": path,
                "summary": summary,
                "body": body,
                "body_media": body_media,
                "responses": responses,
                "secured": secured,
                "parameters": parameters or [],
                "tags": tags or [],
                "also_accepts": also_accepts or {},
                "error_pages": error_pages,
                "role": role,
            }
        )

    def include(self, *routers: "Router") -> None:
        """Declare every operation of ``routers`` (those with ``include_in_schema``)."""
        for router in routers:
            for op in router.operations:
                if not op.include_in_schema:
                    continue
                self.operation(
                    op.method,
                    _CONVERTER.sub(r"{\1}", op.path),
                    op.summary,
                    body=op.body,
                    body_media=op.body_media,
                    responses=dict(op.responses),
                    secured=op.secured,
                    parameters=_merged(_path_parameters(op.path), op.parameters),
                    tags=list(op.tags),
                    also_accepts=dict(op.also_accepts),
                    error_pages=op.error_pages,
                    role=_role_of(op.security),
                )

    def document(self) -> dict[str, Any]:
        if self._cached is not None:
            return self._cached
        mode: Literal["validation", "serialization"]
        pairs = []
        for model in sorted(self._models, key=lambda m: m.__name__):
            for mode in ("validation", "serialization"):
                pairs.append((model, mode))
        key_map, defs = models_json_schema(pairs, ref_template=REF)
        schemas = defs.get("$defs", {})
        paths: dict[str, dict[str, Any]] = {}
        for op in self._ops:
            item: dict[str, Any] = {"summary": op["summary"], "responses": {}}
            if op["tags"]:
                item["tags"] = op["tags"]
            if op["parameters"]:
                item["parameters"] = op["parameters"]
            if op["body"] is not None:
                schema = key_map[(op["body"], "validation")]
                item["requestBody"] = {
                    "required": True,
                    "content": {op["body_media"]: {"schema": schema}},
                }
                for media, other in op["also_accepts"].items():
                    content = item["requestBody"]["content"]
                    content[media] = {"schema": key_map[(other, "validation")]}
            for status, model in op["responses"].items():
                resp: dict[str, Any] = {"description": _reason(status)}
                if isinstance(model, type):
                    resp["content"] = {
                        "application/json": {"schema": key_map[(model, "serialization")]}
                    }
                elif isinstance(model, str):
                    resp["content"] = {model: {"schema": _media_schema(model)}}
                if op["error_pages"] and 400 <= status < 500 and "content" in resp:
                    resp["content"].setdefault("text/html", {"schema": {"type": "string"}})
                item["responses"][str(status)] = resp
            if op["secured"]:
                item["security"] = [{"bearer": []}]
                if op["role"]:
                    item["x-required-role"] = op["role"]
                    item["description"] = (
                        f"Needs a bearer token of the role {op['role']} or higher."
                    )
                item["responses"].setdefault("401", _error_resp(401, key_map))
                item["responses"].setdefault("403", _error_resp(403, key_map))
            for status in ALWAYS:
                item["responses"].setdefault(str(status), _error_resp(status, key_map))
            paths.setdefault(op["path"], {})[op["method"]] = item
        self._cached = {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version, "description": self.description},
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                },
            },
        }
        return self._cached

    async def endpoint(self, _: Request) -> Response:
        return JSONResponse(self.document())


def _role_of(security: Any) -> str:
    """The role a ``Router`` operation's ``security`` names (a ``Role``, say), if it is one."""
    if security is None or isinstance(security, bool):
        return ""
    value = getattr(security, "value", security)
    return value if isinstance(value, str) else ""


def _path_parameters(path: str) -> list[dict[str, Any]]:
    """The ``{name}`` (or ``{name:converter}``) parts of a path, as required path parameters;
    an ``int`` converter makes an integer."""
    params: list[dict[str, Any]] = []
    for name, conv in re.findall(r"{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?}", path):
        schema = {"type": "integer"} if conv == "int" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _merged(
    implied: list[dict[str, Any]], declared: tuple[dict[str, Any], ...]
) -> list[dict[str, Any]]:
    """The path's implied parameters and the declared ones; a declared one (with an ``enum``,
    say) replaces the implied one of the same name and place."""
    named = {(p["name"], p["in"]) for p in declared}
    return [*(p for p in implied if (p["name"], p["in"]) not in named), *declared]


def _error_resp(status: int, key_map: Any) -> dict[str, Any]:
    return {
        "description": _reason(status),
        "content": {"application/json": {"schema": key_map[(ErrorBody, "serialization")]}},
    }


def _media_schema(media: str) -> dict[str, Any]:
    """A body declared only by its media type: a JSON one (``application/feed+json``) is a JSON
    object, anything else (HTML, XML, text, images) a string."""
    if media == "application/json" or media.endswith("+json"):
        return {"type": "object"}
    return {"type": "string"}


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return str(status)
