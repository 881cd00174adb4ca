"""Every operation of every service's OpenAPI document (the feed's included) documents the
answers any request can get before its endpoint decides: 431 (headers too large) and 503 (a
store is not answering), each with the runtime's error body; and the running services give them
as documented (431 here; 503 in each service's outage tests)."""

import httpx
import pytest

from tests.hostile.conftest import Hostile

pytestmark = pytest.mark.infra


@pytest.mark.parametrize("service", ["ingest", "publisher", "polls", "feed"])
def test_431_and_503_are_documented_for_every_operation(hostile: Hostile, service: str) -> None:
    doc = httpx.get(f"{hostile.url(service)}/openapi.json").json()
    operations = [
        (method.upper(), path, op)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) >= 10
    for method, path, op in operations:
        for status in ("431", "503"):
            answer = op["responses"].get(status)
            assert answer, f"{service}: {method} {path} does not document {status}"
            content = answer["content"]
            if "text/html" in content:  # an HTML form's pages answer with a page of ours
                assert content["text/html"]["schema"] == {"type": "string"}
                continue
            body = content["application/json"]["schema"]["$ref"]
            # /readyz says which way it is unavailable in its own body
            expected = "ReadinessBody" if (path, status) == ("/readyz", "503") else "ErrorBody"
            assert body == f"#/components/schemas/{expected}", (service, method, path, status)
    assert "ErrorBody" in doc["components"]["schemas"]
