"""/openapi.json declares every route the service serves."""

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

INFRA = {"/healthz", "/readyz", "/openapi.json"}


async def test_every_route_is_declared_in_openapi(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    declared = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = {
        (route.path, method)
        for route in app.routes
        if isinstance(route, Route) and route.path not in INFRA
        for method in (route.methods or ())
        if method != "HEAD"
    }
    assert served == declared
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["summary"] and op["responses"], (path, method)
    vote = doc["paths"]["/api/v1/polls/{poll_id}/votes"]["post"]
    assert set(vote["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
    }
    assert {"201", "303", "404", "409", "422", "429"} <= set(vote["responses"])
    assert doc["paths"]["/api/v1/polls"]["post"]["security"] == [{"bearer": []}]
    schemas = doc["components"]["schemas"]
    assert {"NewPoll", "PollView", "VoteRequest", "VoteReceipt", "AnomalyList"} <= set(schemas)


async def test_health_and_readiness_check_the_real_dependencies(client: httpx.AsyncClient) -> None:
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok"}  # which dependency failed goes to the log only
