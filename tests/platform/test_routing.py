"""The runtime's router: named module-level endpoints, their OpenAPI next to them, errors mapped
once. Pure logic: Starlette's test client, no servers."""

import httpx
import pytest
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from xabar.runtime.openapi import ErrorBody, OpenAPI
from xabar.runtime.routing import Endpoint, ErrorMap, Operation, Router, error_handlers


class Thing(BaseModel):
    thing_id: str


class NoSuchThing(Exception):
    message = "нет такой вещи"


class Busy(Exception):
    pass


router = Router(tags=["things"])


@router.get("/things/{thing_id}", "One thing", responses={200: Thing, 404: ErrorBody})
async def get_thing(request: Request) -> Response:
    if request.path_params["thing_id"] == "missing":
        raise NoSuchThing
    if request.path_params["thing_id"] == "busy":
        raise Busy("try later")
    return JSONResponse({"thing_id": request.path_params["thing_id"]})


@router.post("/things", "Make a thing", body=Thing, responses={201: Thing}, security="admin")
async def make_thing(request: Request) -> Response:
    return JSONResponse({"thing_id": "new"}, status_code=201)


def guard(op: Operation, endpoint: Endpoint) -> Endpoint:
    async def checked(request: Request) -> Response:
        if request.headers.get("x-role") != op.security:
            return JSONResponse({"error": {"code": "forbidden"}}, status_code=403)
        return await endpoint(request)

    return checked


ERRORS = {
    NoSuchThing: ErrorMap(404, "not_found"),
    Busy: ErrorMap(503, "busy", headers=lambda _: {"Retry-After": "1"}),
}


def app() -> Starlette:
    return Starlette(routes=router.routes(guard), exception_handlers=error_handlers(ERRORS))


def test_endpoints_are_named_after_their_functions() -> None:
    names = [getattr(r, "name", None) for r in router.routes(guard)]
    assert names == ["get_thing", "make_thing"]
    assert app().url_path_for("get_thing", thing_id="x") == "/things/x"


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://t")


async def test_errors_are_mapped_once_with_their_message_and_headers() -> None:
    async with client() as c:
        missing, busy, found = (
            await c.get("/things/missing"),
            await c.get("/things/busy"),
            await c.get("/things/a"),
        )
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "нет такой вещи"}}
    assert (busy.status_code, busy.headers["retry-after"]) == (503, "1")
    assert busy.json()["error"]["message"] == "try later"
    assert found.json() == {"thing_id": "a"}


async def test_the_guard_runs_before_a_secured_endpoint() -> None:
    async with client() as c:
        assert (await c.post("/things")).status_code == 403
        assert (await c.post("/things", headers={"x-role": "admin"})).status_code == 201


def test_a_secured_endpoint_without_a_guard_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="make_thing"):
        router.routes()


def test_the_document_is_declared_next_to_the_endpoints() -> None:
    api = OpenAPI("things", "1")
    api.include(router)
    doc = api.document()
    get = doc["paths"]["/things/{thing_id}"]["get"]
    assert get["tags"] == ["things"]
    assert get["parameters"][0] == {
        "name": "thing_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    assert {"200", "404", "431", "503"} <= get["responses"].keys()
    post = doc["paths"]["/things"]["post"]
    assert post["security"] == [{"bearer": []}]
    assert {"201", "401", "403"} <= post["responses"].keys()
