"""The OpenAPI document declares every route, and real responses match its schemas."""

from typing import Any

import httpx
import jsonschema
from starlette.applications import Starlette
from starlette.routing import Route

from tests.conftest import TokenKeys
from tests.ingest.conftest import Mongo, jpeg_with_gps, multipart_fields, stored, tip
from xabar.ingest.config import IngestSettings
from xabar.runtime.auth import Principal, Role


def _check(doc: dict[str, Any], path: str, method: str, response: httpx.Response) -> None:
    """``response`` is declared for ``method path`` and its JSON body matches the schema."""
    operation = doc["paths"][path][method.lower()]
    declared = operation["responses"].get(str(response.status_code))
    assert declared is not None, f"{method} {path} does not declare {response.status_code}"
    content = declared.get("content", {})
    media = response.headers["content-type"].split(";")[0]
    if "application/json" in content and media == "application/json":
        schema = {**content["application/json"]["schema"], "components": doc["components"]}
        jsonschema.validate(response.json(), schema, cls=jsonschema.Draft202012Validator)
    else:
        matches = [
            m for m in content if m == media or (m.endswith("/*") and media.startswith(m[:-1]))
        ]
        assert matches, f"{media} not declared for {method} {path} {response.status_code}"


async def test_every_route_is_declared(
    app_client: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, client = app_client
    doc = (await client.get("/openapi.json")).json()
    jsonschema.Draft202012Validator.check_schema({"$defs": doc["components"]["schemas"]})
    for route in app.routes:
        assert isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}:
            assert method.lower() in doc["paths"].get(route.path, {}), (method, route.path)


async def test_real_responses_match_the_document(
    app_client: tuple[Starlette, httpx.AsyncClient],
    token_keys: TokenKeys,
    settings: IngestSettings,
    mongo: Mongo,
) -> None:
    _, client = app_client
    doc = (await client.get("/openapi.json")).json()
    sub = "/api/v1/submissions"
    status_path = "/api/v1/submissions/{submission_id}"
    attachment_path = "/api/v1/attachments/{attachment_id}"

    accepted = await client.post(
        sub,
        data=multipart_fields(tip()),
        files=[("photos", ("p.jpg", jpeg_with_gps(), "image/jpeg"))],
    )
    _check(doc, sub, "POST", accepted)
    receipt = accepted.json()
    for response in (
        await client.post(sub, json=tip(title={"$ne": ""})),
        await client.post(sub, content=b"{", headers={"content-type": "application/json"}),
        await client.post(sub, content=b"x", headers={"content-type": "text/xml"}),
        await client.post(sub, json=tip(), headers={"Idempotency-Key": "a b"}),
    ):
        _check(doc, sub, "POST", response)

    found = await client.get(receipt["status_url"], params={"code": receipt["receipt_code"]})
    assert found.status_code == 200
    _check(doc, status_path, "GET", found)
    _check(doc, status_path, "GET", await client.get(receipt["status_url"]))

    token = token_keys.issue(Principal("e", "E", Role.EDITOR))
    submission = await stored(mongo[settings.mongodb_db], receipt["submission_id"])  # moved
    attachment_id = submission["attachments"][0]["attachment_id"]
    photo = await client.get(
        f"/api/v1/attachments/{attachment_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert photo.status_code == 200
    _check(doc, attachment_path, "GET", photo)
    _check(doc, attachment_path, "GET", await client.get(f"/api/v1/attachments/{'0' * 32}"))

    _check(doc, "/report", "GET", await client.get("/report"))
    _check(doc, "/report", "POST", await client.post("/report", data={"title": "x"}))
    _check(doc, "/report/status", "GET", await client.get("/report/status"))
    _check(doc, "/report/status", "POST", await client.post("/report/status", data={"id": "1"}))
    _check(doc, "/healthz", "GET", await client.get("/healthz"))
    _check(doc, "/readyz", "GET", await client.get("/readyz"))
