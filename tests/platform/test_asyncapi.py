"""The AsyncAPI document of the events: ``docs/asyncapi.yaml`` is what the services declare, and
each service's part names the streams it appends to and reads, with their event payloads.
(Each service serving its own at ``/asyncapi.json`` is tested beside its other routes.)"""

from pathlib import Path
from typing import Any

import yaml
from xabar.devstack.asyncapi import combined, combined_yaml, service_buses

from xabar.contracts import (
    ARTICLES_STREAM,
    COMMENTS_STREAM,
    POLLS_STREAM,
    REVIEWS_STREAM,
    SUBMISSIONS_STREAM,
)
from xabar.runtime.asyncapi import document

DOC = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
REGENERATE = "uv run python -m xabar.devstack asyncapi > docs/asyncapi.yaml"

# who appends to (send) and reads (receive) which stream: the architecture's table
EXPECTED = {
    "ingest": {("send", SUBMISSIONS_STREAM), ("receive", REVIEWS_STREAM)},
    "publisher": {
        ("send", ARTICLES_STREAM),
        ("send", COMMENTS_STREAM),
        ("send", REVIEWS_STREAM),
        ("receive", SUBMISSIONS_STREAM),
    },
    "polls": {("send", POLLS_STREAM)},
    "feed": {
        ("receive", ARTICLES_STREAM),
        ("receive", COMMENTS_STREAM),
        ("receive", POLLS_STREAM),
    },
}


def test_the_committed_document_is_what_the_services_declare() -> None:
    assert DOC.read_text(encoding="utf-8") == combined_yaml(), (
        f"docs/asyncapi.yaml is out of date: run `{REGENERATE}`"
    )


def _streams(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (op["action"], doc["channels"][op["channel"]["$ref"].rsplit("/", 1)[1]]["address"])
        for op in doc["operations"].values()
    }


def _payload_titles(doc: dict[str, Any], ref: str) -> set[str]:
    """The event models a message payload is made of (one, a union, or a batch of them)."""
    schemas = doc["components"]["schemas"]
    schema = schemas[ref.rsplit("/", 1)[1]]
    schema = schema.get("items", schema)
    refs = [s["$ref"] for s in schema.get("anyOf", [])] or [ref]
    return {r.rsplit("/", 1)[1] for r in refs}


def test_each_service_documents_the_streams_it_appends_to_and_reads_with_their_events() -> None:
    for bus in service_buses():
        doc = document(bus, title=f"Xabar {bus.name}")
        assert _streams(doc) == EXPECTED[bus.name], bus.name
        for message in doc["components"]["messages"].values():
            models = _payload_titles(doc, message["payload"]["$ref"])
            assert models, message["title"]
            for model in models:  # every payload is an event envelope with its data
                props = doc["components"]["schemas"][model]["properties"]
                assert {"event_id", "type", "schema_version", "data"} <= set(props), model


def test_the_combined_document_is_valid_asyncapi_3_with_every_stream() -> None:
    doc = combined()
    assert doc["asyncapi"] == "3.0.0"
    assert yaml.safe_load(combined_yaml()) == doc
    addresses = {channel["address"] for channel in doc["channels"].values()}
    assert addresses == {
        ARTICLES_STREAM,
        COMMENTS_STREAM,
        POLLS_STREAM,
        REVIEWS_STREAM,
        SUBMISSIONS_STREAM,
    }
    for ref_holder in (*doc["channels"].values(), *doc["operations"].values()):
        for ref in _refs(ref_holder):
            _resolve(doc, ref)  # every $ref points at something


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        assert part in node, ref
        node = node[part]
    return node
